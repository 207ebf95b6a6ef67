//! `s3plan apply`: load, connect, resolve, show what was resolved, confirm, run, report.
//!
//! Owns the order of the safety steps around a run: the report and journal paths are checked writable (and
//! the journal not held by another run) and the operator confirms (or passes `--yes`) before the first
//! mutating call; without a terminal and without `--yes` the run is refused, never left waiting for input.
//! Owns signal handling: before the run (set-up, resolution, the prompt) Ctrl-C or SIGTERM exits at once;
//! during it the first stops new work and lets calls in flight finish, the second abandons them. Does not own
//! execution (`exec`) or any rendering beyond the pre-run overview (`report`). A saved plan (`s3plan plan
//! --out`) is recognised and re-checked by `session.rs`; this module runs it like any other. `cancel` and
//! `confirm` run their flags' plan text through the same `run_plan`, so they get every step above.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::cli::{ApplyArgs, OutputFormat, RunArgs};
use crate::commands::plan::render_entries;
use crate::commands::session::{Session, same_endpoint, shown_endpoint};
use crate::console;
use crate::errors::{self, CommandError};
use crate::exec::journal::{self, FileJournal, Journal, NoJournal};
use crate::exec::journal_line::TargetLine;
use crate::exec::resume::{self, Resume};
use crate::exec::retry::RetryPolicy;
use crate::exec::{self, RunOptions};
use crate::forecast::{self, Forecast};
use crate::report::ReporterSet;
use crate::report::format::ReportFormat;
use crate::report::json::ReportSink;
use crate::report::progress::{LogWriter, ProgressReporter};
use crate::report::run_record::RunMeta;
use crate::report::summary::SummaryReporter;
use crate::resolved::{ResolvedPlan, RunMode, Target};

/// The runtime a run (`apply`, `cancel`, `confirm`) executes on: one thread. The run's work is waiting on
/// the network and bookkeeping between answers; a second worker thread only adds cross-thread wake-ups (a
/// futex and a context switch per hand-over, hyper's connection tasks stolen back and forth), which cost
/// more CPU per call than they save. One thread keeps up with any API rate an account is allowed (about
/// 16,000 calls a second at 60 µs each). File writes of the journal still go to the blocking pool.
pub(crate) fn run_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs `s3plan apply`.
pub fn run(args: &ApplyArgs, log: &LogWriter) -> i32 {
    let runtime = match run_runtime() {
        Ok(runtime) => runtime,
        Err(source) => {
            return errors::report(CommandError::Io {
                action: "start the async runtime for",
                path: args.plan.display().to_string(),
                source,
            });
        }
    };
    let source = PlanSource::File(&args.plan);
    let code = match runtime.block_on(run_plan(&source, &args.run, log)) {
        Ok(code) => code,
        Err(error) => errors::report(error),
    };
    // Every task of the run was awaited; what may be left is the confirmation prompt's blocking stdin read
    // after a Ctrl-C, which an ordinary runtime drop would wait for until someone pressed Enter.
    runtime.shutdown_background();
    code
}

/// Where the plan of a run comes from.
pub(crate) enum PlanSource<'a> {
    /// A plan or saved plan file (`apply`).
    File(&'a Path),
    /// Plan text made in memory (`cancel`, `confirm`): `name` is shown as its path in the overview,
    /// journal and reports, `stem` names the default report.
    Text {
        name: &'a str,
        stem: &'a str,
        text: &'a str,
    },
}

impl PlanSource<'_> {
    /// What the overview, journal and reports call the plan.
    fn shown(&self) -> &Path {
        match self {
            PlanSource::File(path) => path,
            PlanSource::Text { name, .. } => Path::new(name),
        }
    }
}

/// The gates a dry run will not wait for, said before it starts: each opens only through a change made by
/// another entry, which a dry run does not make.
fn unmade_notice(
    resolved: &crate::resolved::ResolvedPlan,
    unmade: &[crate::exec::unmade::UnmadeGate],
) -> String {
    const SHOWN: usize = 20;
    let count = unmade.len();
    let mut text = format!(
        "dry run: not waiting for {count} gated {} (they end would_apply): each gate depends on a change \
         this dry run does not make",
        if count == 1 { "job" } else { "jobs" }
    );
    for gate in unmade.iter().take(SHOWN) {
        text.push_str(&format!(
            "\n  {} job {}: {}",
            resolved.entries[gate.entry].name,
            gate.job,
            gate.reason(resolved)
        ));
    }
    if count > SHOWN {
        text.push_str(&format!("\n  … and {} more", count - SHOWN));
    }
    text
}

/// Runs a plan the way `apply` does: load, connect, resolve, overview, confirm, journal, run, report.
pub(crate) async fn run_plan(
    source: &PlanSource<'_>,
    args: &RunArgs,
    log: &LogWriter,
) -> Result<i32, CommandError> {
    let mode = if args.dry_run {
        RunMode::DryRun
    } else {
        RunMode::Apply
    };
    let retry = retry_policy()?;
    let signals = Signals::install();
    // Set-up may wait on the network (credentials, the STS account lookup): Ctrl-C works from here on.
    let opened = async {
        match source {
            PlanSource::File(path) => Session::open(path, &args.connect, mode).await,
            PlanSource::Text { name, text, .. } => {
                Session::open_text(name, text, &args.connect, mode).await
            }
        }
    };
    let session = tokio::select! {
        session = opened => session?,
        () = signals.cancel.cancelled() => return Err(CommandError::Interrupted),
    };
    let stem = match source {
        PlanSource::File(path) => *path,
        PlanSource::Text { stem, .. } => Path::new(stem),
    };

    let reports = report_files(args, stem)?;
    let _reserved =
        ReservedName((!args.report.contains(&reports[0].0)).then(|| reports[0].0.clone()));
    for (path, _) in &reports {
        ensure_writable(path, "write the report to")?;
    }
    // The journal sits beside the JSON report, which `report_files` always puts first.
    let report_path = reports[0].0.clone();
    let journal_path = journal_path(&report_path);
    if mode == RunMode::Apply {
        ensure_writable(&journal_path, "write the journal to")?;
        match journal::held_by_another_run(&journal_path) {
            Ok(false) => {}
            Ok(true) => return Err(shared_journal(&journal_path)),
            Err(source) => {
                return Err(CommandError::Io {
                    action: "lock the journal",
                    path: journal_path.display().to_string(),
                    source,
                });
            }
        }
    }

    let resume = match &args.resume {
        Some(path) => Arc::new(load_resume(path, &session)?),
        None => Arc::new(Resume::default()),
    };
    let mut resolved = tokio::select! {
        resolved = session.resolve(&signals.cancel) => resolved?,
        () = signals.cancel.cancelled() => return Err(CommandError::Interrupted),
    };
    resume.extend_plan(&mut resolved);
    // `-q` keeps stderr for errors, but a confirmation is never asked without showing what it is for.
    let asks = mode == RunMode::Apply && !args.yes;
    if asks || !crate::text::is_quiet() {
        // Judged as `plan` judges it (the gates' watched jobs read once), so the overview lists the same
        // lines `plan` prints: what is confirmed is what was reviewed.
        let readers = session.readers(&signals.cancel);
        let places = session.places(&session.controls, &readers);
        let watched = tokio::select! {
            watched = forecast::read_watched(&resolved, &places) => watched,
            () = signals.cancel.cancelled() => return Err(CommandError::Interrupted),
        };
        let shown = (!args.all_jobs).then_some(crate::commands::plan::JOBS_SHOWN);
        let judged = forecast::forecast_shown(&resolved, &watched, shown);
        console::note(overview(
            source.shown(),
            &resolved,
            &judged,
            &report_path,
            args.all_jobs,
        ));
    }

    if mode == RunMode::DryRun {
        let unmade = crate::exec::unmade::unmade_gates(&resolved);
        if !unmade.is_empty() {
            crate::note!("{}", unmade_notice(&resolved, &unmade));
        }
    }
    if asks {
        confirm(&resolved, &signals.cancel).await?;
    }

    let journal: Arc<dyn Journal> = match mode {
        RunMode::Apply => {
            let journal = match FileJournal::create(&journal_path).await {
                Ok(journal) => journal,
                // Another run took the journal since the check above: still before any change.
                Err(error) if error.0.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(shared_journal(&journal_path));
                }
                Err(error) => {
                    return Err(CommandError::Io {
                        action: "create the journal",
                        path: journal_path.display().to_string(),
                        source: std::io::Error::new(error.0.kind(), error.0.to_string()),
                    });
                }
            };
            crate::note!("journal: {}", journal_path.display());
            journal
                .begin(
                    &source.shown().display().to_string(),
                    &session.plan_meta().sha256,
                    &resolved,
                    &resume,
                )
                .await
                .map_err(|error| CommandError::Io {
                    action: "write the journal",
                    path: journal_path.display().to_string(),
                    source: std::io::Error::new(error.0.kind(), error.0.to_string()),
                })?;
            Arc::new(journal)
        }
        RunMode::DryRun => Arc::new(NoJournal),
    };

    let meta = session.plan_meta();
    let run_meta = RunMeta {
        plan: meta.clone(),
        operator: std::env::var("USER").ok().filter(|user| !user.is_empty()),
        reasons_sent: resolved
            .entries
            .iter()
            .filter_map(|entry| Some((entry.name.to_string(), entry.reason.clone()?)))
            .collect(),
    };
    let mut reporters = ReporterSet::new();
    reporters.add(ProgressReporter::new(args.progress, log));
    for (path, format) in &reports {
        reporters.add(format.reporter(run_meta.clone(), ReportSink::File(path.clone())));
    }
    match args.output {
        OutputFormat::Human => {
            let summary = SummaryReporter::new(Box::new(console::Stdout));
            reporters.add(match mode {
                RunMode::Apply => summary.resume_with(
                    crate::commands::flag_plan::resume_command_line(&journal_path),
                ),
                RunMode::DryRun => summary,
            });
        }
        OutputFormat::Json => {
            reporters.add(ReportFormat::Json.reporter(
                run_meta.clone(),
                ReportSink::Writer(Box::new(console::Stdout)),
            ));
        }
    }

    let options = RunOptions {
        journal,
        abort: signals.abort.clone(),
        resume,
        retry,
        ..RunOptions::default()
    };
    let summary = exec::run(
        resolved,
        session.controls.clone(),
        reporters,
        signals.cancel.clone(),
        options,
    )
    .await;
    for error in &summary.reporter_errors {
        tracing::error!("{error}");
    }
    if let Some(error) = &summary.journal_error {
        eprintln!(
            "error: the run stopped because {error}\n  nothing was sent without a durable intent; jobs not yet sent ended not_run\n  free the disk (or fix the journal's file) and rerun, or resume with `--resume` and the journal"
        );
    }
    for (path, _) in &reports {
        crate::note!("report: {}", path.display());
    }
    if let Some(sandbox) = session.sandbox {
        sandbox.shutdown().await;
    }
    Ok(summary.exit_code())
}

/// Reads the journal of an interrupted run for `--resume`; refuses one written for another account, region
/// or endpoint, or another version of the plan (its outcomes would be credited to the wrong jobs).
fn load_resume(path: &Path, session: &Session) -> Result<Resume, CommandError> {
    let records = resume::read(path).map_err(|error| {
        CommandError::refused(
            format!(
                "cannot resume from {}: {error}; nothing was changed",
                path.display()
            ),
            "pass the `.journal.jsonl` file printed as `journal:` by the interrupted run",
        )
    })?;
    let resume = Resume::from_records(&records);
    if let Some(run) = &resume.run {
        let differs = target_differences(&run.targets, &session.targets);
        if !differs.is_empty() {
            // Its acknowledged jobs live elsewhere: crediting them here would report jobs applied that this
            // run's targets never saw.
            let help = if run.targets.iter().all(|t| t.name.is_none()) {
                "resume with the account, region and endpoint of the interrupted run (--account-id, --region, --endpoint-url), or rerun here without --resume"
            } else {
                "resume with the targets of the interrupted run (the same --target flags and endpoint), or rerun here without --resume"
            };
            return Err(CommandError::refused(
                format!(
                    "{} is the journal of a run in another place: {}; nothing was changed",
                    path.display(),
                    differs.join(", ")
                ),
                help,
            ));
        }
        if run.plan_sha256 != session.plan_meta().sha256 {
            return Err(CommandError::refused(
                format!(
                    "the plan changed since {} was written (sha256 {} then, {} now); nothing was changed",
                    path.display(),
                    run.plan_sha256,
                    session.plan_meta().sha256
                ),
                "rerun without --resume: a rerun converges (jobs already at target are unchanged and get no call)",
            ));
        }
    }
    console::note(format_args!(
        "resume: {} acted on by the earlier run ({})\n",
        crate::text::plural(resume.len(), "job"),
        path.display()
    ));
    Ok(resume)
}

/// How the targets of a journal's run differ from this run's, one phrase each (empty when they are the
/// same). Targets are paired by name; the one unnamed target of a plan without `targets:` is compared field
/// by field with the same wording as before targets existed (`account A (this run: B)`).
fn target_differences(journal: &[TargetLine], run: &[Target]) -> Vec<String> {
    let mut differs = Vec::new();
    for then in journal {
        let prefix = then
            .name
            .as_ref()
            .map_or_else(String::new, |name| format!("target {name}: "));
        let Some(now) = run.iter().find(|t| t.name == then.name) else {
            differs.push(format!(
                "target {} (not in this run)",
                Target::from(then).label()
            ));
            continue;
        };
        if then.account != now.account_id {
            differs.push(format!(
                "{prefix}account {} (this run: {})",
                then.account, now.account_id
            ));
        }
        if then.region != now.region {
            differs.push(format!(
                "{prefix}region {} (this run: {})",
                then.region, now.region
            ));
        }
        if !same_endpoint(then.endpoint.as_deref(), now.endpoint.as_deref()) {
            differs.push(format!(
                "{prefix}endpoint {} (this run: {})",
                shown_endpoint(then.endpoint.as_deref()),
                shown_endpoint(now.endpoint.as_deref())
            ));
        }
    }
    for now in run {
        if !journal.iter().any(|t| t.name == now.name) {
            differs.push(format!("target {} (not in the journal)", now.label()));
        }
    }
    differs
}

/// `S3PLAN_RETRY_BUDGET` (e.g. `5s`) replaces the time a call may keep retrying after its first attempt:
/// a testing knob (like `S3PLAN_ATTEMPT_TIMEOUT`), so that budget tests need not run for minutes.
fn retry_policy() -> Result<RetryPolicy, CommandError> {
    let mut policy = RetryPolicy::default();
    if let Ok(value) = std::env::var("S3PLAN_RETRY_BUDGET") {
        policy.max_total = humantime::parse_duration(value.trim()).map_err(|e| {
            CommandError::refused(
                format!("S3PLAN_RETRY_BUDGET={value} is not a duration: {e}"),
                "give a duration such as 120s, or unset it",
            )
        })?;
    }
    Ok(policy)
}

/// Ctrl-C and SIGTERM, turned into the run's two tokens.
struct Signals {
    cancel: CancellationToken,
    abort: CancellationToken,
}

impl Signals {
    fn install() -> Self {
        let cancel = CancellationToken::new();
        let abort = CancellationToken::new();
        let (first, second) = (cancel.clone(), abort.clone());
        tokio::spawn(async move {
            let mut pressed = 0;
            while next_signal().await {
                pressed += 1;
                if pressed == 1 {
                    console::note(
                        "\ninterrupted: starting no new work, letting calls in flight finish (Ctrl-C again to stop at once)\n",
                    );
                    first.cancel();
                } else {
                    console::note("\ninterrupted again: abandoning calls in flight\n");
                    second.cancel();
                    break;
                }
            }
        });
        Self { cancel, abort }
    }
}

/// Waits for SIGINT or SIGTERM; `false` when signals cannot be watched.
pub(crate) async fn next_signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return tokio::signal::ctrl_c().await.is_ok();
        };
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.is_ok(),
            received = term.recv() => received.is_some(),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// The refusal when another run holds the journal at `path`: two runs sharing one would both send every
/// request, and their records would interleave.
fn shared_journal(path: &Path) -> CommandError {
    CommandError::refused(
        format!(
            "another s3plan run is using the journal {}; nothing was changed",
            path.display()
        ),
        "wait for that run to finish (then rerun: jobs already at target get no call), or pass another --report",
    )
}

/// The report files of the run with their formats, the JSON reference report first (the default path
/// when no `--report` is JSON).
fn report_files(args: &RunArgs, plan: &Path) -> Result<Vec<(PathBuf, ReportFormat)>, CommandError> {
    let mut files = Vec::with_capacity(args.report.len() + 1);
    for path in &args.report {
        let format = args
            .report_format
            .or_else(|| ReportFormat::from_path(path))
            .ok_or_else(|| {
                CommandError::refused(
                    format!("cannot tell the format of report `{}`", path.display()),
                    "name it .json, .md or .xml, or pass --report-format json|markdown|junit",
                )
            })?;
        files.push((path.clone(), format));
    }
    match files
        .iter()
        .position(|(_, format)| *format == ReportFormat::Json)
    {
        Some(first_json) => files.swap(0, first_json),
        None => files.insert(
            0,
            (first_free(default_report_path(plan)), ReportFormat::Json),
        ),
    }
    Ok(files)
}

/// `s3plan-report-<plan stem>-<UTC time>.json` in the current directory.
fn default_report_path(plan: &Path) -> PathBuf {
    let stem = plan
        .file_stem()
        .map_or_else(|| "plan".into(), |s| s.to_string_lossy().into_owned());
    let now = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    PathBuf::from(format!("s3plan-report-{stem}-{now}.json"))
}

/// `path`, or `<stem>-2.json`, `<stem>-3.json`, ... when it is taken: two runs of a plan in the same second
/// must not overwrite each other's report nor share a journal. The name is reserved by creating the file
/// (`create_new`, atomic), so two runs starting at once cannot both pick it; the empty file is replaced by
/// the report at the end of the run.
fn first_free(path: PathBuf) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let candidates = std::iter::once(path.clone())
        .chain((2u32..).map(|n| path.with_file_name(format!("{stem}-{n}.json"))));
    for candidate in candidates {
        if journal_path(&candidate).exists() {
            continue;
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(_) => return candidate,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            // An unwritable directory: the writability check names it with its cause.
            Err(_) => return candidate,
        }
    }
    unreachable!("invariant: an endless list of names has a free one")
}

/// A default report name reserved by [`first_free`]; removed again when the run ends without writing a
/// report into it (a refusal), so refused runs leave no empty files behind.
struct ReservedName(Option<PathBuf>);

impl Drop for ReservedName {
    fn drop(&mut self) {
        if let Some(path) = &self.0
            && std::fs::metadata(path).is_ok_and(|m| m.len() == 0)
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The journal sits beside the report: `<report>.journal.jsonl`.
fn journal_path(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".journal.jsonl");
    PathBuf::from(name)
}

/// Refuses before any change when `path` cannot be written: the record of a run must never be lost.
fn ensure_writable(path: &Path, action: &'static str) -> Result<(), CommandError> {
    let existed = path.exists();
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    match opened {
        Ok(_) => {
            if !existed {
                // Only a probe: the writer creates the file for real later.
                let _ = std::fs::remove_file(path);
            }
            Ok(())
        }
        Err(source) => Err(CommandError::Io {
            action,
            path: path.display().to_string(),
            source,
        }),
    }
}

/// What the run is about to do, for the operator to check before confirming: where and how it runs, then
/// every entry with its jobs (id, description, status now and requested) as `plan` prints them, the first
/// few per entry unless `all_jobs` (`-v`).
fn overview(
    plan: &Path,
    resolved: &ResolvedPlan,
    judged: &Forecast,
    report: &Path,
    all_jobs: bool,
) -> String {
    let mode = match resolved.settings.mode {
        RunMode::Apply => "apply",
        RunMode::DryRun => "dry run (no changes)",
    };
    let mut text = format!("plan      {}\n", plan.display());
    text.push_str(&where_it_runs(resolved));
    text.push_str(&format!(
        "mode      {mode}\nlimits    {} in flight{}, {}/s changes, {}/s reads{}, poll every {}\nreport    {}\n",
        resolved.settings.concurrency,
        if resolved.targets.len() > 1 { " in all" } else { "" },
        resolved.settings.rate_limit,
        resolved.settings.poll_rate_limit,
        if resolved.targets.len() > 1 { " per target" } else { "" },
        humantime::format_duration(resolved.settings.poll_interval),
        report.display(),
    ));
    render_entries(&mut text, judged, all_jobs);
    text.push('\n');
    text
}

/// The account, region and endpoint of a one-target plan, or a line per target with its jobs (the run's
/// `--target` selection included), so the operator sees every place the run touches.
pub(crate) fn where_it_runs(resolved: &ResolvedPlan) -> String {
    let endpoints: std::collections::BTreeSet<&str> = resolved
        .targets
        .iter()
        .map(|t| t.endpoint.as_deref().unwrap_or("AWS (default)"))
        .collect();
    let endpoint = endpoints.into_iter().collect::<Vec<_>>().join(", ");
    if !resolved.is_multi_target() {
        let Some(target) = resolved.targets.first() else {
            return String::new();
        };
        return format!(
            "account   {}\nregion    {}\nendpoint  {endpoint}\n",
            target.account_id, target.region
        );
    }
    let mut jobs = vec![0usize; resolved.targets.len()];
    for job in resolved.entries.iter().flat_map(|e| &e.jobs) {
        if let Some(count) = jobs.get_mut(job.target()) {
            *count += 1;
        }
    }
    let accounts: std::collections::BTreeSet<_> =
        resolved.targets.iter().map(|t| &t.account_id).collect();
    let regions: std::collections::BTreeSet<_> =
        resolved.targets.iter().map(|t| &t.region).collect();
    let mut text = format!(
        "targets   {} ({}, {})\n",
        resolved.targets.len(),
        crate::text::plural(accounts.len(), "account"),
        crate::text::plural(regions.len(), "region")
    );
    let width = resolved
        .targets
        .iter()
        .map(|t| t.label().len())
        .max()
        .unwrap_or(0);
    for (target, count) in resolved.targets.iter().zip(jobs) {
        text.push_str(&format!(
            "  {:<width$}  account {}  {:<14}  {}\n",
            target.label(),
            target.account_id,
            target.region,
            crate::text::plural(count, "job"),
        ));
    }
    text.push_str(&format!("endpoint  {endpoint}\n"));
    text
}

/// How the confirmation question names where the run acts.
fn where_asked(resolved: &ResolvedPlan) -> String {
    match resolved.targets.as_slice() {
        [one] if !resolved.is_multi_target() => {
            format!("in account {} ({})", one.account_id, one.region)
        }
        targets => format!(
            "in {} ({})",
            crate::text::plural(targets.len(), "target"),
            targets
                .iter()
                .map(Target::label)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Asks the operator on the terminal; refuses without one.
async fn confirm(resolved: &ResolvedPlan, cancel: &CancellationToken) -> Result<(), CommandError> {
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::refused(
            "refusing to change jobs without confirmation: stdin is not a terminal; nothing was changed",
            "review the overview above, then rerun with --yes (or --dry-run to rehearse)",
        ));
    }
    let question = format!(
        "Apply these changes {}? Type `yes` to go on: ",
        where_asked(resolved)
    );
    let answer = tokio::task::spawn_blocking(move || {
        console::note(question);
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    });
    let line = tokio::select! {
        answer = answer => answer.ok().and_then(Result::ok).unwrap_or_default(),
        () = cancel.cancelled() => return Err(CommandError::Interrupted),
    };
    if line.trim() == "yes" {
        Ok(())
    } else {
        Err(CommandError::refused(
            "not confirmed; nothing was changed",
            "type `yes` at the prompt, or pass --yes",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AccountId;

    fn target(name: Option<&str>, account: &str, region: &str) -> Target {
        Target {
            name: name.map(str::to_owned),
            account_id: AccountId::parse(account).unwrap(),
            region: region.to_owned(),
            endpoint: None,
        }
    }

    #[test]
    fn a_resume_names_every_way_the_targets_differ() {
        let us = target(Some("prod-us"), "111122223333", "us-east-1");
        let eu = target(Some("prod-eu"), "111122223333", "eu-west-1");
        let dr = target(Some("dr"), "444455556666", "us-west-2");
        let journal: Vec<TargetLine> = [&us, &eu].into_iter().map(TargetLine::from).collect();
        assert!(target_differences(&journal, &[eu.clone(), us.clone()]).is_empty());

        let moved = target(Some("prod-eu"), "444455556666", "eu-central-1");
        assert_eq!(
            target_differences(&journal, &[us.clone(), moved, dr]),
            [
                "target prod-eu: account 111122223333 (this run: 444455556666)",
                "target prod-eu: region eu-west-1 (this run: eu-central-1)",
                "target dr (not in the journal)",
            ]
        );
        assert_eq!(
            target_differences(&journal, std::slice::from_ref(&us)),
            ["target prod-eu (not in this run)"]
        );
    }

    #[test]
    fn a_resume_of_an_unnamed_target_keeps_the_one_place_wording() {
        let then = target(None, "111122223333", "us-east-1");
        let mut now = target(None, "111122223333", "us-west-2");
        now.endpoint = Some("http://127.0.0.1:9000".to_owned());
        assert_eq!(
            target_differences(&[TargetLine::from(&then)], &[now]),
            [
                "region us-east-1 (this run: us-west-2)",
                "endpoint AWS (default) (this run: http://127.0.0.1:9000)",
            ]
        );
    }

    #[test]
    fn the_journal_sits_beside_the_report() {
        assert_eq!(
            journal_path(Path::new("out/run.json")),
            PathBuf::from("out/run.json.journal.jsonl")
        );
    }

    #[test]
    fn default_reports_are_named_after_the_plan() {
        let path = default_report_path(Path::new("examples/incident-bulk-cancel.yaml"));
        let name = path.to_string_lossy();
        assert!(
            name.starts_with("s3plan-report-incident-bulk-cancel-"),
            "{name}"
        );
        assert!(name.ends_with("Z.json"), "{name}");
    }

    #[test]
    fn a_default_report_never_overwrites_an_earlier_one() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("s3plan-report-p-20260101T000000Z.json");
        assert_eq!(first_free(first.clone()), first);
        std::fs::write(&first, "{}").unwrap();
        let second = first_free(first.clone());
        assert_eq!(
            second,
            dir.path().join("s3plan-report-p-20260101T000000Z-2.json")
        );
        std::fs::write(&second, "{}").unwrap();
        assert_eq!(
            first_free(first),
            dir.path().join("s3plan-report-p-20260101T000000Z-3.json")
        );
    }
}
