//! `s3plan validate`: offline checks of plan files; prints every problem and exits 0 (valid, warnings
//! allowed) or 2 (at least one error in any file).
//!
//! Owns output: miette's graphical rendering on stderr (plain, no colour, when `NO_COLOR` is set or
//! stderr is not a terminal; width from `COLUMNS`, default 100) or one JSON array on stdout with
//! `--format json`. Does not own any check (`plan`).

use std::io::{IsTerminal, Write};

use miette::{GraphicalReportHandler, GraphicalTheme};

use crate::cli::{DiagnosticFormat, ValidateArgs};
use crate::errors::{EXIT_INVALID, EXIT_OK};
use crate::plan::{self, Checked, DiagnosticRecord, Located};
use crate::text::plural;

/// Runs `s3plan validate`.
pub fn run(args: &ValidateArgs) -> i32 {
    // A saved plan (`plan --out`) is JSON of another shape: checked as a plan, every one of its fields
    // would be an unknown key. Say what it is and how to look at it instead.
    let mut saved_valid = true;
    let plans: Vec<&std::path::PathBuf> = args
        .plans
        .iter()
        .filter(|path| match crate::saved::detect(path) {
            Ok(None) => true,
            Ok(Some(saved)) => {
                let jobs: usize = saved.entries.iter().map(|e| e.jobs.len()).sum();
                crate::note!(
                    "saved plan: {} is a saved plan ({} in {}), not a plan file; show it with `s3plan plan {}`",
                    path.display(),
                    plural(jobs, "job"),
                    plural(saved.entries.len(), "entry"),
                    path.display()
                );
                false
            }
            Err(error) => {
                eprintln!("invalid: {error}");
                saved_valid = false;
                false
            }
        })
        .collect();
    let checked: Vec<Checked> = plans.iter().map(|p| plan::check_file(p)).collect();
    let all_valid = saved_valid && checked.iter().all(Checked::is_valid);
    let written = match args.format {
        DiagnosticFormat::Human => print_human(&checked),
        DiagnosticFormat::Json => print_json(&checked),
    };
    if let Err(error) = written {
        tracing::error!("failed to write diagnostics: {error}");
        return EXIT_INVALID;
    }
    if all_valid { EXIT_OK } else { EXIT_INVALID }
}

fn handler() -> GraphicalReportHandler {
    let plain = std::env::var_os("NO_COLOR").is_some() || !std::io::stderr().is_terminal();
    let theme = if plain {
        GraphicalTheme::unicode_nocolor()
    } else {
        GraphicalTheme::unicode()
    };
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100);
    GraphicalReportHandler::new_themed(theme).with_width(width)
}

fn print_human(checked: &[Checked]) -> std::io::Result<()> {
    let handler = handler();
    // `-q`: errors only, so neither warnings nor the "valid:" lines.
    let quiet = crate::text::is_quiet();
    let mut stderr = std::io::stderr().lock();
    for file in checked {
        let source = file.named_source();
        for diagnostic in file.diagnostics.iter().filter(|d| !quiet || d.is_error()) {
            let mut text = String::new();
            let located = Located {
                diagnostic,
                source: &source,
            };
            if handler.render_report(&mut text, &located).is_err() {
                text = format!("{diagnostic}\n");
            }
            stderr.write_all(text.as_bytes())?;
        }
        let errors = file.diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = file.diagnostics.len() - errors;
        let path = file.path.display();
        let summary = match (file.is_valid(), warnings) {
            (true, 0) => format!("valid: {path}\n"),
            (true, _) => format!("valid: {path} ({})\n", plural(warnings, "warning")),
            (false, 0) => format!("invalid: {path} ({})\n", plural(errors, "error")),
            (false, _) => format!(
                "invalid: {path} ({}, {})\n",
                plural(errors, "error"),
                plural(warnings, "warning")
            ),
        };
        if !(quiet && file.is_valid()) {
            stderr.write_all(summary.as_bytes())?;
        }
    }
    Ok(())
}

fn print_json(checked: &[Checked]) -> std::io::Result<()> {
    let records: Vec<DiagnosticRecord> = checked
        .iter()
        .flat_map(|file| {
            let name = file.path.display().to_string();
            file.diagnostics
                .iter()
                .map(move |d| d.to_record(&name, &file.source))
                .collect::<Vec<_>>()
        })
        .collect();

    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &records)?;
    stdout.write_all(b"\n")
}
