//! `s3plan plan`: resolve a plan and show, per entry and per job, what `apply` would do — changing nothing.
//!
//! Owns the rendering of a `Forecast` (human and JSON; `apply`'s overview reuses the entry blocks),
//! `--detailed-exitcode`, writing a saved plan (`--out`) and showing one as reviewed (`plan SAVED.json`). Every judgment comes from `forecast.rs`, which asks the executor's own `decision::decide`. The
//! job API is wrapped so that a mutating call is refused locally even if one were ever attempted, and so that
//! the task counters seen while resolving are recorded for the saved plan. Does not apply anything (`apply`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::api::{
    Answer, ApiCall, ApiError, ApiErrorKind, JobControl, JobDescription, JobId, JobPage, JobStatus,
    Progress, Tag, TargetStatus,
};
use crate::cli::{OutputFormat, PlanArgs};
use crate::commands::session::{Origin, Session};
use crate::console;
use crate::errors::{self, CommandError};
use crate::forecast::{self, EntryForecast, Forecast, JobForecast, Totals, Verdict};
use crate::resolved::{ResolvedPlan, RunMode};
use crate::saved::{self, SavedCredentials, SavedPlan};

/// Jobs shown per entry in human output without `-v`.
pub const JOBS_SHOWN: usize = 10;

/// Descriptions longer than this are not padded to (they still print in full).
const DESCRIPTION_WIDTH: usize = 32;

/// `--detailed-exitcode`: nothing to do.
pub const DETAILED_NO_CHANGES: i32 = 0;
/// `--detailed-exitcode`: the plan failed.
pub const DETAILED_ERROR: i32 = 1;
/// `--detailed-exitcode`: apply would change (or wait for, or fail on) at least one job.
pub const DETAILED_CHANGES: i32 = 2;

/// Runs `s3plan plan`; `all_jobs` (`-v`) lists every job in human output.
pub fn run(args: &PlanArgs, all_jobs: bool) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(source) => {
            return finish(
                args,
                Err(CommandError::Io {
                    action: "start the async runtime for",
                    path: args.plan.display().to_string(),
                    source,
                }),
            );
        }
    };
    let result = runtime.block_on(plan(args, all_jobs));
    finish(args, result)
}

/// Maps the result to the exit code, `--detailed-exitcode` or not.
fn finish(args: &PlanArgs, result: Result<bool, CommandError>) -> i32 {
    match (result, args.detailed_exitcode) {
        (Ok(_), false) => errors::EXIT_OK,
        (Ok(false), true) => DETAILED_NO_CHANGES,
        (Ok(true), true) => DETAILED_CHANGES,
        (Err(error), false) => errors::report(error),
        (Err(error), true) => {
            let code = errors::report(error);
            if code == errors::EXIT_INTERRUPTED {
                code
            } else {
                DETAILED_ERROR
            }
        }
    }
}

/// Resolves, judges, prints and saves; returns whether apply would have anything to do.
async fn plan(args: &PlanArgs, all_jobs: bool) -> Result<bool, CommandError> {
    if let Some(saved) = saved::detect(&args.plan).map_err(|e| {
        CommandError::refused(
            e.to_string(),
            "make the saved plan again with `s3plan plan PLAN --out SAVED.json`",
        )
    })? {
        return show_saved(args, &saved, all_jobs);
    }
    if let Some(out) = &args.out {
        probe_writable(out)?;
    }
    let session = Session::open(&args.plan, &args.connect, RunMode::DryRun).await?;
    let cancel = CancellationToken::new();
    let recorders: Vec<Arc<Recorder<_>>> = session
        .controls
        .iter()
        .map(|control| Arc::new(Recorder::new(control.clone())))
        .collect();
    let resolved = tokio::select! {
        resolved = session.resolve_with(&recorders, &cancel) => resolved?,
        _ = tokio::signal::ctrl_c() => {
            cancel.cancel();
            return Err(CommandError::Interrupted);
        }
    };
    let readers = session.readers(&cancel);
    let places = session.places(&recorders, &readers);
    let watched = forecast::read_watched(&resolved, &places).await;
    let judged = forecast::forecast(&resolved, &watched);

    let meta = session.plan_meta();
    match args.output {
        // Through the console: a reader that went away (`| head`) is not an error, nor a panic.
        OutputFormat::Human => {
            let _ = write!(
                console::Stdout,
                "{}",
                render(&meta.path, &resolved, &judged, all_jobs)
            );
        }
        OutputFormat::Json => {
            let view = JsonView {
                plan: &meta.path,
                sha256: &meta.sha256,
                account_id: resolved.targets[0].account_id.as_str(),
                region: &resolved.targets[0].region,
                endpoint: resolved.targets[0].endpoint.as_deref(),
                targets: targets_view(&resolved),
                pending: judged.totals.pending(),
                totals: &judged.totals,
                entries: &judged.entries,
            };
            let text = serde_json::to_string_pretty(&view).map_err(|e| CommandError::Io {
                action: "render the plan of",
                path: meta.path.clone(),
                source: std::io::Error::other(e),
            })?;
            let _ = writeln!(console::Stdout, "{text}");
        }
    }

    if let (Some(out), Origin::Plan(loaded)) = (&args.out, &session.origin) {
        let path = std::fs::canonicalize(&loaded.path).unwrap_or_else(|_| loaded.path.clone());
        // Each target's credentials as the plan gives them, so `apply SAVED.json` connects the same way.
        let plan_targets = loaded.plan.targets();
        let credentials: Vec<SavedCredentials> = resolved
            .targets
            .iter()
            .map(|target| {
                plan_targets
                    .iter()
                    .find(|t| target.name.as_deref() == Some(t.name.as_str()))
                    .map_or(SavedCredentials::Chain, |t| (&t.credentials).into())
            })
            .collect();
        let saved = SavedPlan::new(
            path,
            loaded.sha256.clone(),
            args.max_age,
            &resolved,
            &judged,
            &recorded_progress(&recorders),
            &credentials,
        );
        write_saved(out, &saved)?;
        crate::note!(
            "saved plan: {} ({}); apply exactly these with `s3plan apply {}` within {}",
            out.display(),
            crate::text::plural(judged.totals.jobs, "job"),
            out.display(),
            humantime::format_duration(args.max_age)
        );
    }
    if let Some(sandbox) = session.sandbox {
        sandbox.shutdown().await;
    }
    Ok(judged.totals.pending())
}

/// Renders a saved plan as it was reviewed, from the file alone: no connection, no call. What apply would
/// do now may differ (`apply SAVED.json` re-checks every job first); the header says when it was reviewed.
fn show_saved(args: &PlanArgs, saved: &SavedPlan, all_jobs: bool) -> Result<bool, CommandError> {
    if args.out.is_some() {
        return Err(CommandError::refused(
            format!(
                "{} is already a saved plan; nothing was written",
                args.plan.display()
            ),
            "pass the plan file (YAML) to `--out`, or copy the saved plan",
        ));
    }
    let (resolved, judged) = saved.reviewed().map_err(|e| {
        CommandError::refused(
            e.to_string(),
            "make the saved plan again with `s3plan plan PLAN --out SAVED.json`",
        )
    })?;
    let plan = saved.plan.path.display().to_string();
    match args.output {
        OutputFormat::Human => {
            let mut text = format!(
                "saved     {} (reviewed {}, applicable until {})\n",
                args.plan.display(),
                saved.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                expiry(saved),
            );
            text.push_str(&render(&plan, &resolved, &judged, all_jobs));
            let _ = writeln!(
                text,
                "as reviewed; `s3plan apply {}` re-checks every job before any change",
                args.plan.display()
            );
            let _ = write!(console::Stdout, "{text}");
        }
        OutputFormat::Json => {
            let view = JsonView {
                plan: &plan,
                sha256: &saved.plan.sha256,
                account_id: resolved.targets[0].account_id.as_str(),
                region: &resolved.targets[0].region,
                endpoint: resolved.targets[0].endpoint.as_deref(),
                targets: targets_view(&resolved),
                pending: judged.totals.pending(),
                totals: &judged.totals,
                entries: &judged.entries,
            };
            let text = serde_json::to_string_pretty(&view).map_err(|e| CommandError::Io {
                action: "render the saved plan",
                path: args.plan.display().to_string(),
                source: std::io::Error::other(e),
            })?;
            let _ = writeln!(console::Stdout, "{text}");
        }
    }
    Ok(judged.totals.pending())
}

/// When a saved plan stops being applicable, as a UTC time.
fn expiry(saved: &SavedPlan) -> String {
    jiff::SignedDuration::try_from(saved.max_age)
        .ok()
        .and_then(|age| saved.created_at.checked_add(age).ok())
        .map_or_else(
            || "never".to_owned(),
            |at| at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

/// Refuses before any read when the saved plan could not be written, so a long resolution is not wasted.
fn probe_writable(out: &Path) -> Result<(), CommandError> {
    let mut temp = out.as_os_str().to_owned();
    temp.push(".tmp");
    std::fs::write(&temp, b"")
        .and_then(|()| std::fs::remove_file(&temp))
        .map_err(|source| CommandError::Io {
            action: "write the saved plan to",
            path: out.display().to_string(),
            source,
        })
}

/// Writes the saved plan through a temporary file and a rename, so a reader never sees half a plan.
fn write_saved(out: &Path, saved: &SavedPlan) -> Result<(), CommandError> {
    let io = |source: std::io::Error| CommandError::Io {
        action: "write the saved plan to",
        path: out.display().to_string(),
        source,
    };
    let mut temp = out.as_os_str().to_owned();
    temp.push(".tmp");
    // Streamed into the file: the text of 100,000 jobs is never held in memory.
    let mut file = std::io::BufWriter::new(std::fs::File::create(&temp).map_err(io)?);
    serde_json::to_writer_pretty(&mut file, saved).map_err(|e| io(std::io::Error::other(e)))?;
    file.write_all(b"\n").map_err(io)?;
    file.flush().map_err(io)?;
    drop(file);
    std::fs::rename(&temp, out).map_err(io)
}

/// The `--output json` document.
#[derive(Serialize)]
struct JsonView<'a> {
    plan: &'a str,
    sha256: &'a str,
    account_id: &'a str,
    region: &'a str,
    endpoint: Option<&'a str>,
    /// Every target, when the plan has `targets:` (`account_id` and `region` are then the first's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    targets: Vec<TargetView>,
    pending: bool,
    totals: &'a Totals,
    entries: &'a [EntryForecast],
}

/// A target as `plan --format json` shows it.
#[derive(Serialize)]
struct TargetView {
    name: String,
    account_id: String,
    region: String,
    jobs: usize,
}

fn targets_view(resolved: &ResolvedPlan) -> Vec<TargetView> {
    if !resolved.is_multi_target() {
        return Vec::new();
    }
    resolved
        .targets
        .iter()
        .enumerate()
        .map(|(index, target)| TargetView {
            name: target.label(),
            account_id: target.account_id.to_string(),
            region: target.region.clone(),
            jobs: resolved
                .entries
                .iter()
                .flat_map(|e| &e.jobs)
                .filter(|j| j.target == index)
                .count(),
        })
        .collect()
}

/// The human plan: header, one block per entry, totals.
pub fn render(plan: &str, resolved: &ResolvedPlan, judged: &Forecast, all_jobs: bool) -> String {
    let mut text = format!("plan      {plan}\n");
    text.push_str(&crate::commands::apply::where_it_runs(resolved));
    render_entries(&mut text, judged, all_jobs);
    text
}

/// One block per entry (its jobs: all with `all_jobs`, else the first [`JOBS_SHOWN`] and a count) and the
/// totals: what `plan` prints after its header, and `apply`'s confirmation overview after its own.
pub(crate) fn render_entries(text: &mut String, judged: &Forecast, all_jobs: bool) {
    for entry in &judged.entries {
        let _ = write!(text, "\n{}  {}", entry.name, action(entry));
        let _ = writeln!(
            text,
            "  {} job{}: {}",
            entry.jobs.len(),
            plural(entry.jobs.len()),
            counts(&entry.counts)
        );
        if !entry.after.is_empty() {
            let _ = writeln!(
                text,
                "  after {} {}",
                crate::text::noun_for(entry.after.len(), "entry"),
                entry.after.join(", ")
            );
        }
        let mut jobs: Vec<&JobForecast> = entry.jobs.iter().collect();
        // Grouped by target name, then by verdict.
        jobs.sort_by(|a, b| a.target.cmp(&b.target).then(a.verdict.cmp(&b.verdict)));
        let shown = if all_jobs {
            jobs.len()
        } else {
            JOBS_SHOWN.min(jobs.len())
        };
        let jobs = &jobs[..shown];
        let id_width = jobs
            .iter()
            .map(|j| j.job_id.as_str().len())
            .max()
            .unwrap_or(0);
        let description_width = jobs
            .iter()
            .map(|j| j.description.as_deref().map_or(1, str::len))
            .max()
            .unwrap_or(0)
            .min(DESCRIPTION_WIDTH);
        let target_width = jobs
            .iter()
            .filter_map(|j| j.target.as_deref().map(str::len))
            .max();
        for job in jobs {
            if let Some(width) = target_width {
                let _ = write!(text, "  {:<width$}", job.target.as_deref().unwrap_or("-"));
            }
            let _ = writeln!(
                text,
                "  {:<12}  {:<id_width$}  {:<description_width$}  {}",
                job.verdict.label(),
                job.job_id.as_str(),
                job.description.as_deref().unwrap_or("-"),
                detail(job)
            );
        }
        let hidden = entry.jobs.len() - shown;
        if hidden > 0 {
            let _ = writeln!(
                text,
                "  ... {hidden} more job{} (-v shows all)",
                plural(hidden)
            );
        }
    }
    let totals = &judged.totals;
    let _ = writeln!(
        text,
        "\n{} job{} in {} entr{}: {}",
        totals.jobs,
        plural(totals.jobs),
        judged.entries.len(),
        if judged.entries.len() == 1 {
            "y"
        } else {
            "ies"
        },
        counts(&totals.verdicts)
    );
    let _ = writeln!(
        text,
        "calls apply would send now: {} UpdateJobStatus, {} UpdateJobPriority",
        totals.status_calls, totals.priority_calls,
    );
    if let Some(&n) = totals.verdicts.get(&Verdict::Impossible) {
        let _ = writeln!(
            text,
            "{n} job{} cannot succeed: apply would end {} failed or not_run (exit 1)",
            plural(n),
            if n == 1 { "it" } else { "them" }
        );
    }
    if !totals.pending() {
        text.push_str("nothing to do\n");
    }
}

fn action(entry: &EntryForecast) -> String {
    let mut parts = Vec::new();
    if let Some(target) = entry.target {
        parts.push(format!("set {target}"));
    }
    if let Some(priority) = entry.priority {
        parts.push(format!("priority {priority}"));
    }
    parts.join(", ")
}

fn detail(job: &JobForecast) -> String {
    let mut changes = Vec::new();
    if let Some(change) = job.status_change {
        changes.push(format!("{} -> {}", change.from, change.to));
    }
    if let Some(change) = job.priority_change {
        changes.push(format!("priority {} -> {}", change.from, change.to));
    }
    let changes = changes.join(", ");
    match job.verdict {
        Verdict::Change => match &job.gate {
            Some(gate) => format!("{changes} (gate holds: {})", gate.gate),
            None => changes,
        },
        Verdict::Waiting => {
            let gate = job.gate.as_ref();
            let now = gate
                .and_then(|g| g.watched_status)
                .map_or_else(|| "unknown".to_owned(), |s: JobStatus| s.to_string());
            let then = if changes.is_empty() {
                "nothing to change".to_owned()
            } else {
                changes
            };
            let text = format!(
                "until {} (now {now}; does not hold yet), then {then}",
                gate.map_or("its gate", |g| g.gate.as_str())
            );
            match &job.reason {
                Some(reason) => format!("{text}; a dry run does not wait: {reason}"),
                None => text,
            }
        }
        Verdict::Met => match &job.gate {
            Some(gate) => format!("checkpoint: {} holds", gate.gate),
            None => job.reason.clone().unwrap_or_default(),
        },
        Verdict::Unchanged | Verdict::Skipped | Verdict::Impossible => {
            job.reason.clone().unwrap_or_default()
        }
    }
}

fn counts(counts: &std::collections::BTreeMap<Verdict, usize>) -> String {
    let parts: Vec<String> = Verdict::ALL
        .iter()
        .filter_map(|v| counts.get(v).map(|n| format!("{n} {}", v.label())))
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The job API for `plan`: reads pass through and their task counters are recorded; writes are refused
/// here, so `plan` cannot change a job whatever code path is taken.
struct Recorder<C> {
    inner: Arc<C>,
    progress: Mutex<HashMap<JobId, Progress>>,
}

impl<C> Recorder<C> {
    fn new(inner: Arc<C>) -> Self {
        Self {
            inner,
            progress: Mutex::new(HashMap::new()),
        }
    }

    fn record(&self, id: &JobId, progress: Progress) {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), progress);
    }

    /// What was recorded, taken out: a copy would double a map of every listed job (10 MiB at 100,000).
    fn take_progress(&self) -> HashMap<JobId, Progress> {
        std::mem::take(&mut *self.progress.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Every recorder's task counters in one map, later targets' over earlier ones', moved rather than copied.
fn recorded_progress<C>(recorders: &[Arc<Recorder<C>>]) -> HashMap<JobId, Progress> {
    let mut all = HashMap::new();
    for recorder in recorders {
        let taken = recorder.take_progress();
        if all.is_empty() {
            all = taken;
        } else {
            all.extend(taken);
        }
    }
    all
}

fn no_changes(call: ApiCall) -> ApiError {
    ApiError::local(
        call,
        ApiErrorKind::Other,
        "s3plan plan makes no changes; this is a bug",
    )
}

impl<C: JobControl> JobControl for Recorder<C> {
    async fn describe_job(&self, job: &JobId) -> Result<Answer<JobDescription>, ApiError> {
        let answer = self.inner.describe_job(job).await?;
        self.record(job, answer.value.summary.progress);
        Ok(answer)
    }

    async fn list_jobs(
        &self,
        statuses: &[JobStatus],
        next_token: Option<&str>,
        max_results: i32,
    ) -> Result<Answer<JobPage>, ApiError> {
        let answer = self
            .inner
            .list_jobs(statuses, next_token, max_results)
            .await?;
        for job in &answer.value.jobs {
            self.record(&job.id, job.progress);
        }
        Ok(answer)
    }

    async fn update_job_status(
        &self,
        _job: &JobId,
        _target: TargetStatus,
        _reason: Option<&str>,
    ) -> Result<Answer<JobStatus>, ApiError> {
        Err(no_changes(ApiCall::UpdateJobStatus))
    }

    async fn update_job_priority(
        &self,
        _job: &JobId,
        _priority: i32,
    ) -> Result<Answer<i32>, ApiError> {
        Err(no_changes(ApiCall::UpdateJobPriority))
    }

    async fn get_job_tagging(&self, job: &JobId) -> Result<Answer<Vec<Tag>>, ApiError> {
        self.inner.get_job_tagging(job).await
    }
}
