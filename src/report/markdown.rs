//! The Markdown report: a record of the run ready to paste into an incident ticket.
//!
//! Owns the report's layout: a header (plan and its hash, account, region, endpoint, who ran it, start, end,
//! duration, mode, result), the summary by outcome, every unsuccessful job first with its call, AWS error
//! code, request id and a hint, then one table per entry. A run over a plan's `targets:` lists them in the
//! header, sums each one up after the summary, names each failed job's target and has a section per target
//! (its summary and its entries' tables) instead of one list of entries. Renders a [`RunRecord`], the same data as the JSON
//! report, row by row into the writer, reading the rows back (from the report's spool) once per pass
//! rather than holding them. Does not accumulate events or open the file (`format.rs`), nor decide
//! where the file goes (the command does).

use std::collections::BTreeSet;
use std::io::Write;

use crate::api::Progress;
use crate::event::JobRecord;
use crate::exec::{Outcome, grouped, percent, rate_bp};
use crate::report::run_record::{
    EntryRecords, RunRecord, format_duration, is_over_task_condition, outcome_hint, outcome_words,
    status_change,
};
use crate::resolved::{RunMode, Target};

/// Writes the report of a finished run.
pub fn render(record: &RunRecord, out: &mut dyn Write) -> std::io::Result<()> {
    let counts = record.counts();
    let info = record.info.as_deref();
    let mode = info.map(|i| i.mode);
    let verb = match mode {
        Some(RunMode::DryRun) => "dry run",
        Some(RunMode::Apply) | None => "apply",
    };
    writeln!(out, "# s3plan {verb}: {}", cell(&record.meta.plan.path))?;
    writeln!(out)?;
    writeln!(out, "| | |")?;
    writeln!(out, "| --- | --- |")?;
    let result = if record.interrupted {
        format!(
            "**interrupted**; {} of {} did not succeed",
            counts.unsuccessful(),
            crate::text::plural(counts.total(), "job")
        )
    } else if counts.unsuccessful() > 0 {
        format!(
            "**{} of {} did not succeed**",
            counts.unsuccessful(),
            crate::text::plural(counts.total(), "job")
        )
    } else {
        match counts.total() {
            1 => "the job succeeded".to_owned(),
            total => format!("all {total} jobs succeeded"),
        }
    };
    writeln!(out, "| Result | {result} |")?;
    writeln!(
        out,
        "| Plan | {} (sha256 `{}`) |",
        cell(&record.meta.plan.path),
        cell(&record.meta.plan.sha256)
    )?;
    let multi = record.is_multi_target();
    match record.targets() {
        [] => {}
        [only] if !multi => {
            writeln!(out, "| Account | {} |", cell(only.account_id.as_str()))?;
            writeln!(out, "| Region | {} |", cell(&only.region))?;
            writeln!(out, "| Endpoint | {} |", cell(endpoint_text(only)))?;
        }
        targets => write_targets_rows(out, targets)?,
    }
    if let Some(operator) = &record.meta.operator {
        writeln!(out, "| Run by | {} |", cell(operator))?;
    }
    let mode_text = match mode {
        Some(RunMode::Apply) => "apply (changes made)",
        Some(RunMode::DryRun) => "dry run (no changes made)",
        None => "unknown",
    };
    writeln!(out, "| Mode | {mode_text} |")?;
    let started = record.started_at.map_or("—".to_owned(), |t| t.to_string());
    let finished = record.finished_at.map_or("—".to_owned(), |t| t.to_string());
    writeln!(out, "| Started | {started} |")?;
    writeln!(out, "| Finished | {finished} |")?;
    writeln!(out, "| Duration | {} |", format_duration(record.elapsed))?;
    writeln!(out, "| s3plan | {} |", env!("CARGO_PKG_VERSION"))?;
    writeln!(out)?;

    writeln!(out, "## Summary")?;
    writeln!(out)?;
    writeln!(out, "| Outcome | Jobs |")?;
    writeln!(out, "| --- | ---: |")?;
    for outcome in Outcome::ALL {
        writeln!(
            out,
            "| {} | {} |",
            outcome_words(outcome),
            counts.get(outcome)
        )?;
    }
    writeln!(out, "| **total** | **{}** |", counts.total())?;
    writeln!(out)?;
    if multi {
        write_target_summary(out, record)?;
    }

    if counts.unsuccessful() > 0 {
        writeln!(out, "## Did not succeed ({})", counts.unsuccessful())?;
        writeln!(out)?;
        if multi {
            writeln!(
                out,
                "| Job | Target | Entry | Outcome | Call | Error code | Request id | What happened | Hint |"
            )?;
            writeln!(
                out,
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
            )?;
        } else {
            writeln!(
                out,
                "| Job | Entry | Outcome | Call | Error code | Request id | What happened | Hint |"
            )?;
            writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- |")?;
        }
        // Jobs over a task condition first: the rows of the entries with failures are read again for each
        // group rather than held.
        let failing: Vec<EntryRecords<'_>> = record
            .entries()
            .into_iter()
            .filter(|entry| entry.counts().unsuccessful() > 0)
            .collect();
        for &over_task_condition in task_condition_passes(&failing) {
            for entry in &failing {
                for job in entry.jobs() {
                    let job = job?;
                    if job.outcome.is_success()
                        || is_over_task_condition(&job) != over_task_condition
                    {
                        continue;
                    }
                    let target =
                        multi.then(|| record.target_label(&job).unwrap_or_else(|| "?".to_owned()));
                    write_failure(out, &job, target.as_deref())?;
                }
            }
        }
        writeln!(out)?;
    }

    if !multi {
        writeln!(out, "## Entries")?;
        for entry in &record.entries() {
            writeln!(out)?;
            write_entry(out, entry, &record.meta)?;
        }
        return Ok(());
    }
    // A section per target, with its summary and its entries' tables.
    for target in record.by_target() {
        writeln!(
            out,
            "## Target {} (account {}, {})",
            cell(&target.target.label()),
            cell(target.target.account_id.as_str()),
            cell(&target.target.region)
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "{}: {}.",
            crate::text::plural(target.counts.total(), "job"),
            target.counts.describe()
        )?;
        for entry in &record.entries_in(target.index) {
            writeln!(out)?;
            write_entry(out, entry, &record.meta)?;
        }
        writeln!(out)?;
    }
    let without = record.entries_without_jobs();
    if !without.is_empty() {
        writeln!(out, "## Entries without jobs")?;
        writeln!(out)?;
        for entry in without {
            writeln!(out, "- {}", cell(entry.name))?;
        }
    }
    Ok(())
}

/// `AWS default` for a target without a custom endpoint.
fn endpoint_text(target: &Target) -> &str {
    target.endpoint.as_deref().unwrap_or("AWS default")
}

/// The header rows of a run over several targets: each target with its account and region, and the
/// endpoints (one row when they are all the same).
fn write_targets_rows(out: &mut dyn Write, targets: &[Target]) -> std::io::Result<()> {
    let accounts: BTreeSet<&str> = targets.iter().map(|t| t.account_id.as_str()).collect();
    let regions: BTreeSet<&str> = targets.iter().map(|t| t.region.as_str()).collect();
    let listed: Vec<String> = targets
        .iter()
        .map(|t| {
            format!(
                "{} (account {}, {})",
                cell(&t.label()),
                cell(t.account_id.as_str()),
                cell(&t.region)
            )
        })
        .collect();
    writeln!(
        out,
        "| Targets | {} in {}, {}:<br>{} |",
        targets.len(),
        crate::text::plural(accounts.len(), "account"),
        crate::text::plural(regions.len(), "region"),
        listed.join("<br>")
    )?;
    let mut endpoints: Vec<String> = Vec::new();
    for endpoint in targets.iter().map(|t| cell(endpoint_text(t))) {
        if !endpoints.contains(&endpoint) {
            endpoints.push(endpoint);
        }
    }
    writeln!(out, "| Endpoint | {} |", endpoints.join(", "))
}

/// Jobs per outcome in each target, in plan order.
fn write_target_summary(out: &mut dyn Write, record: &RunRecord) -> std::io::Result<()> {
    writeln!(out, "## Targets")?;
    writeln!(out)?;
    writeln!(
        out,
        "| Target | Account | Region | Jobs | Did not succeed | Outcomes |"
    )?;
    writeln!(out, "| --- | --- | --- | ---: | ---: | --- |")?;
    for target in record.by_target() {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&target.target.label()),
            cell(target.target.account_id.as_str()),
            cell(&target.target.region),
            target.counts.total(),
            target.counts.unsuccessful(),
            target.counts.describe()
        )?;
    }
    writeln!(out)
}

fn write_failure(
    out: &mut dyn Write,
    job: &JobRecord,
    target: Option<&str>,
) -> std::io::Result<()> {
    let error = job.error.as_ref();
    let mut what = Vec::new();
    if let Some(reason) = &job.reason {
        what.push(cell(reason));
    }
    if let Some(error) = error {
        what.push(cell(&error.message));
    }
    let target = target.map_or(String::new(), |t| format!(" {} |", cell(t)));
    writeln!(
        out,
        "| `{}` |{target} {} | {} | {} | {} | {} | {} | {} |",
        job.job_id,
        cell(&job.entry),
        outcome_words(job.outcome),
        error.map_or("—", |e| e.call.as_str()),
        error.map_or("—".to_owned(), |e| cell(&e.code)),
        optional(job.request_id.as_deref()),
        if what.is_empty() {
            "—".to_owned()
        } else {
            what.join("<br>")
        },
        outcome_hint(job).map_or("—".to_owned(), cell),
    )
}

fn write_entry(
    out: &mut dyn Write,
    entry: &EntryRecords<'_>,
    meta: &crate::report::run_record::RunMeta,
) -> std::io::Result<()> {
    let counts = entry.counts();
    writeln!(
        out,
        "### {} ({}: {})",
        cell(entry.name),
        crate::text::plural(counts.total(), "job"),
        counts.describe()
    )?;
    writeln!(out)?;
    let Some(first) = entry.first()? else {
        writeln!(out, "No jobs.")?;
        return Ok(());
    };
    let mut wants = Vec::new();
    if let Some(target) = first.requested() {
        wants.push(format!("status `{target}`"));
    }
    if let Some(priority) = first.priority_requested() {
        wants.push(format!("priority {priority}"));
    }
    if !wants.is_empty() {
        writeln!(out, "Requested: {}.", wants.join(", "))?;
        writeln!(out)?;
    }
    if let Some(reason) = first.requested().and(meta.entry_reason(entry.name)) {
        writeln!(
            out,
            "Reason sent to AWS with its status calls (`StatusUpdateReason`): {}",
            cell(reason)
        )?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "| Job | Description | Before → after | Outcome | Tasks failed | Attempts | Request id | What happened |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | ---: | ---: | --- | --- |")?;
    for &over_task_condition in task_condition_passes(std::slice::from_ref(entry)) {
        for job in entry.jobs() {
            let job = job?;
            if is_over_task_condition(&job) == over_task_condition {
                write_job(out, &job)?;
            }
        }
    }
    Ok(())
}

/// One row of an entry's table.
fn write_job(out: &mut dyn Write, job: &JobRecord) -> std::io::Result<()> {
    writeln!(
        out,
        "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
        job.job_id,
        optional(job.description.as_deref()),
        status_change(job, "→"),
        outcome_words(job.outcome),
        tasks_failed(job.tasks),
        job.attempts,
        optional(job.request_id.as_deref()),
        optional(job.reason.as_deref()),
    )
}

/// The passes over `entries`' rows that list the jobs over a task condition first, then the others, each
/// group in plan order: one pass, for the others, when no job is over a task condition.
fn task_condition_passes(entries: &[EntryRecords<'_>]) -> &'static [bool] {
    if entries.iter().any(|e| e.over_task_condition() > 0) {
        &[true, false]
    } else {
        &[false]
    }
}

/// `412 of 20,000 (2.06 %)`: failed of the finished tasks, and the rate; `—` before any task finished.
fn tasks_failed(tasks: Option<Progress>) -> String {
    let Some(tasks) = tasks else {
        return "—".to_owned();
    };
    let failed = tasks.failed_tasks.max(0);
    let finished = tasks.succeeded_tasks.max(0) + failed;
    if finished == 0 {
        return format!("— of {}", grouped(tasks.total_tasks));
    }
    let rate = percent(rate_bp(failed, finished));
    format!("{} of {} ({rate})", grouped(failed), grouped(finished))
}

fn optional(text: Option<&str>) -> String {
    text.map_or("—".to_owned(), cell)
}

/// Escapes `text` for one table cell: Markdown punctuation is backslash-escaped (so a description can
/// neither end the cell with `|` nor turn into links, code or emphasis) and line breaks become `<br>`.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '&' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Reporter;
    use crate::report::run_record::ReportSink;
    use crate::report::run_record::fixtures::{SharedBuf, meta, run_events};

    fn rendered(mode: RunMode, interrupted: bool, operator: Option<&str>) -> String {
        let buffer = SharedBuf::default();
        let mut meta = meta();
        meta.operator = operator.map(str::to_owned);
        let mut reporter = crate::report::format::ReportFormat::Markdown
            .reporter(meta, ReportSink::Writer(Box::new(buffer.clone())));
        for event in run_events(mode, interrupted) {
            reporter.report(&event).unwrap();
        }
        buffer.text()
    }

    /// Times, the duration and the version vary between runs; the rest is the report.
    fn redacted() -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]");
        settings.add_filter(r"\| Duration \| [^|]+ \|", "| Duration | [duration] |");
        settings.add_filter(r"\| s3plan \| [^|]+ \|", "| s3plan | [version] |");
        settings
    }

    #[test]
    fn every_outcome_renders_with_failures_first() {
        let text = rendered(
            RunMode::Apply,
            true,
            Some("arn:aws:iam::111122223333:user/alice"),
        );
        let failures = text.find("## Did not succeed (3)").unwrap();
        let entries = text.find("## Entries").unwrap();
        assert!(failures < entries);
        // The failure row carries the call, the code, the request id and the hint.
        let row = text
            .lines()
            .find(|l| l.starts_with("| `job-failed` | cancel-nightly"))
            .unwrap();
        for part in [
            "UpdateJobStatus",
            "AccessDenied",
            "REQ000003",
            "s3:UpdateJobStatus",
        ] {
            assert!(row.contains(part), "{part} missing from {row}");
        }
        redacted().bind(|| insta::assert_snapshot!(text));
    }

    #[test]
    fn a_clean_dry_run_says_so_and_omits_the_failure_section() {
        let buffer = SharedBuf::default();
        let mut reporter = crate::report::format::ReportFormat::Markdown
            .reporter(meta(), ReportSink::Writer(Box::new(buffer.clone())));
        let events: Vec<_> = run_events(RunMode::DryRun, false)
            .into_iter()
            .filter(|e| match &e.kind {
                crate::event::EventKind::JobFinished(r) => r.outcome.is_success(),
                _ => true,
            })
            .collect();
        for event in &events {
            reporter.report(event).unwrap();
        }
        let text = buffer.text();
        assert!(text.contains("| Result | all 4 jobs succeeded |"), "{text}");
        assert!(
            text.contains("| Mode | dry run (no changes made) |"),
            "{text}"
        );
        assert!(text.starts_with("# s3plan dry run: "), "{text}");
        assert!(!text.contains("Did not succeed"), "{text}");
        assert!(
            text.contains("### confirm-batch (0 jobs: no jobs)"),
            "{text}"
        );
    }

    #[test]
    fn cells_cannot_break_the_table() {
        for (input, expected) in [
            ("a | b", r"a \| b"),
            ("one\ntwo", "one<br>two"),
            ("one\r\ntwo", "one<br>two"),
            (r"back\slash", r"back\\slash"),
            ("`code` *em* _em_", r"\`code\` \*em\* \_em\_"),
            ("<script>", r"\<script\>"),
            ("[link](x)", r"\[link\](x)"),
            ("  padded\t", "padded"),
            ("bell\u{7}", "bell "),
        ] {
            assert_eq!(cell(input), expected, "{input:?}");
        }
    }

    #[test]
    fn unknown_operator_leaves_out_the_row() {
        let text = rendered(RunMode::Apply, false, None);
        assert!(!text.contains("| Run by |"), "{text}");
        assert!(text.contains("**3 of 7 jobs did not succeed**"), "{text}");
    }

    #[test]
    fn a_run_over_several_targets_has_a_section_per_target() {
        use crate::report::run_record::fixtures::multi_target_events;
        let buffer = SharedBuf::default();
        let mut reporter = crate::report::format::ReportFormat::Markdown
            .reporter(meta(), ReportSink::Writer(Box::new(buffer.clone())));
        for event in multi_target_events(RunMode::Apply, false) {
            reporter.report(&event).unwrap();
        }
        let text = buffer.text();
        assert!(!text.contains("\n| Account |"), "{text}");
        assert!(
            text.contains("| Targets | 3 in 2 accounts, 2 regions:<br>prod-us (account 111122223333, us-east-1)<br>"),
            "{text}"
        );
        let sections: Vec<&str> = text.lines().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(
            sections,
            [
                "## Summary",
                "## Targets",
                "## Did not succeed (3)",
                "## Target prod-us (account 111122223333, us-east-1)",
                "## Target dr/us-east-1 (account 444455556666, us-east-1)",
                "## Target dr/us-west-2 (account 444455556666, us-west-2)",
                "## Entries without jobs",
            ]
        );
        let failed = text
            .lines()
            .find(|l| l.starts_with("| `job-failed` |"))
            .unwrap();
        assert!(
            failed.starts_with("| `job-failed` | dr/us-east-1 | cancel-nightly | failed |"),
            "{failed}"
        );
        // `confirm-batch` acts only in dr/us-west-2: the other sections leave it out.
        assert_eq!(text.matches("### confirm-batch").count(), 1, "{text}");
        redacted().bind(|| insta::assert_snapshot!(text));
    }
}
