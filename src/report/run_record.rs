//! The data every report file is rendered from: the run's facts, accumulated from events.
//!
//! Owns [`RunRecord`] (run info, every `JobRecord`, start and end, interrupted flag), [`JobRows`] and
//! [`OutcomeCounts`], so the Markdown and JUnit writers render exactly the data the JSON report (the reference
//! format) holds. A run's records for a report file are not kept in memory: [`JobRows`] counts them as they
//! come (over the run, per entry, and per target and entry) and spools them to disk (`spool.rs`), and the
//! writers read them back, in plan order, at the end: all of them, or one target's.
//! Also owns the few words shared by those writers: outcome hints and duration formatting. Does not own any
//! output format (`json.rs`, `markdown.rs`, `junit.rs`) or the failure hints of API errors (`summary.rs`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::event::{Event, EventKind, JobRecord, RunInfo};
use crate::exec::Outcome;
use crate::report::spool::JobSpool;
use crate::report::summary;
use crate::resolved::Target;

/// What a report file says about the run that only the command knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMeta {
    /// The plan file's path and hash.
    pub plan: PlanMeta,
    /// Who ran it, when known (`$USER`, or the caller ARN from STS `GetCallerIdentity`).
    pub operator: Option<String>,
    /// The `StatusUpdateReason` each entry sends with its status calls, by entry name (entries without a
    /// reason are absent).
    pub reasons_sent: std::collections::HashMap<String, String>,
}

impl RunMeta {
    /// The `StatusUpdateReason` sent for `job`: its entry's reason when a status call was sent, else `None`.
    pub fn reason_sent(&self, job: &JobRecord) -> Option<&str> {
        job.requested()?;
        if job.attempts == 0 {
            return None;
        }
        self.entry_reason(&job.entry)
    }

    /// The `StatusUpdateReason` the entry named `entry` sends with its status calls.
    pub fn entry_reason(&self, entry: &str) -> Option<&str> {
        self.reasons_sent.get(entry).map(String::as_str)
    }
}

/// Jobs per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts([usize; Outcome::ALL.len()]);

impl OutcomeCounts {
    /// Counts one more job with `outcome`.
    pub fn add(&mut self, outcome: Outcome) {
        self.0[slot(outcome)] += 1;
    }

    /// Adds every job counted in `other`.
    pub fn merge(&mut self, other: &OutcomeCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    /// Jobs that ended with `outcome`.
    pub fn get(&self, outcome: Outcome) -> usize {
        self.0[slot(outcome)]
    }

    /// Every job counted.
    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    /// Jobs whose outcome makes the exit code 1 (failed, timed out, not run).
    pub fn unsuccessful(&self) -> usize {
        Outcome::ALL
            .iter()
            .filter(|o| !o.is_success())
            .map(|o| self.get(*o))
            .sum()
    }

    /// The outcomes with at least one job, in report order.
    pub fn nonzero(&self) -> impl Iterator<Item = (Outcome, usize)> + '_ {
        Outcome::ALL
            .iter()
            .map(|o| (*o, self.get(*o)))
            .filter(|(_, n)| *n > 0)
    }

    /// `3 applied, 1 not run`, or `no jobs`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .nonzero()
            .map(|(o, n)| format!("{n} {}", outcome_words(o)))
            .collect();
        if parts.is_empty() {
            "no jobs".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

fn slot(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Applied => 0,
        Outcome::Unchanged => 1,
        Outcome::Skipped => 2,
        Outcome::WouldApply => 3,
        Outcome::Met => 4,
        Outcome::Failed => 5,
        Outcome::TimedOut => 6,
        Outcome::NotRun => 7,
    }
}

/// An outcome for prose: `would apply`, `timed out`.
pub fn outcome_words(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Applied => "applied",
        Outcome::Unchanged => "unchanged",
        Outcome::Skipped => "skipped",
        Outcome::WouldApply => "would apply",
        Outcome::Met => "met",
        Outcome::Failed => "failed",
        Outcome::TimedOut => "timed out",
        Outcome::NotRun => "not run",
    }
}

/// What the operator can do about a job that did not succeed; `None` for successes.
pub fn outcome_hint(record: &JobRecord) -> Option<&'static str> {
    if let Some(error) = &record.error {
        return Some(summary::hint(error.kind, error.call));
    }
    match record.outcome {
        Outcome::Failed => Some("see the reason; rerun once it is fixed"),
        Outcome::TimedOut => Some(
            "the gate did not hold in time: check the watched job, raise the gate's `timeout` and rerun",
        ),
        Outcome::NotRun => {
            Some("rerun the plan: jobs already at target are left alone, so only the rest is sent")
        }
        Outcome::Applied
        | Outcome::Unchanged
        | Outcome::Skipped
        | Outcome::WouldApply
        | Outcome::Met => None,
    }
}

/// The job's status change: `Active → Cancelling`; `Complete (not changed)` when no call was made; `?` for
/// a status not known after acting.
pub fn status_change(record: &JobRecord, arrow: &str) -> String {
    let before = record.status_before.map_or("?", |s| s.as_str());
    match (record.status_after, record.outcome) {
        (Some(after), _) => format!("{before} {arrow} {after}"),
        (
            None,
            Outcome::Unchanged
            | Outcome::Skipped
            | Outcome::WouldApply
            | Outcome::Met
            | Outcome::TimedOut
            | Outcome::NotRun,
        ) => format!("{before} (not changed)"),
        (None, Outcome::Applied | Outcome::Failed) => format!("{before} {arrow} ?"),
    }
}

/// Whether the job's gate failed on a task condition: reports list such jobs first (the ones to look at in
/// an incident).
pub fn is_over_task_condition(job: &JobRecord) -> bool {
    job.reason
        .as_deref()
        .is_some_and(crate::exec::is_over_task_condition)
}

/// A duration for people, to the second (`1h 2m 3s`), or to the millisecond under a second.
pub fn format_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        return format!("{}ms", duration.as_millis());
    }
    humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
}

/// One entry's part of a finished run (or of one target's part of it).
#[derive(Debug, Clone, Copy)]
pub struct EntryRecords<'a> {
    /// The entry's index in the plan.
    pub index: usize,
    /// The entry's name.
    pub name: &'a str,
    /// The target whose jobs these are; `None` for the entry's jobs in every target.
    pub target: Option<usize>,
    /// When its first job started, if it has jobs.
    pub first_started: Option<Timestamp>,
    /// When its last job finished, if it has jobs.
    pub last_finished: Option<Timestamp>,
    counts: OutcomeCounts,
    over_task_condition: usize,
    rows: &'a JobRows,
}

impl EntryRecords<'_> {
    /// Its jobs per outcome.
    pub fn counts(&self) -> OutcomeCounts {
        self.counts
    }

    /// How many of its jobs have a gate that failed on a task condition ([`is_over_task_condition`]).
    pub fn over_task_condition(&self) -> usize {
        self.over_task_condition
    }

    /// Whether it has no job.
    pub fn is_empty(&self) -> bool {
        self.counts.total() == 0
    }

    /// Its jobs, in plan order (read back from the spool: each read can fail).
    pub fn jobs(&self) -> impl Iterator<Item = std::io::Result<JobRecord>> + '_ {
        self.rows.entry_rows(self.index, self.target, self.name)
    }

    /// Its first job in plan order, if any.
    pub fn first(&self) -> std::io::Result<Option<JobRecord>> {
        self.jobs().next().transpose()
    }
}

/// One target's part of a finished run: where it is and its jobs per outcome.
#[derive(Debug, Clone)]
pub struct TargetRecords<'a> {
    /// The target's index in `RunInfo::targets`.
    pub index: usize,
    /// The target.
    pub target: &'a Target,
    /// Its jobs per outcome.
    pub counts: OutcomeCounts,
}

/// What is known of one entry's finished jobs (in the whole run, or in one target) without reading them
/// back.
#[derive(Debug, Clone, Default)]
struct EntryFacts {
    name: Option<Arc<str>>,
    counts: OutcomeCounts,
    over_task_condition: usize,
    first_started: Option<Timestamp>,
    last_finished: Option<Timestamp>,
}

impl EntryFacts {
    fn add(&mut self, record: &JobRecord) {
        self.name.get_or_insert_with(|| record.entry.clone());
        self.counts.add(record.outcome);
        if is_over_task_condition(record) {
            self.over_task_condition += 1;
        }
        self.first_started = Some(
            self.first_started
                .map_or(record.started_at, |t| t.min(record.started_at)),
        );
        self.last_finished = Some(
            self.last_finished
                .map_or(record.finished_at, |t| t.max(record.finished_at)),
        );
    }
}

/// `facts[index]`, grown with defaults to hold it.
fn slot_of<T: Default>(facts: &mut Vec<T>, index: usize) -> &mut T {
    if facts.len() <= index {
        facts.resize_with(index + 1, T::default);
    }
    &mut facts[index]
}

/// Where the finished records are.
#[derive(Debug)]
enum RowStore {
    /// None yet; the spool is created in this directory with the first record.
    Unopened(PathBuf),
    /// On disk, one line each (a run's report files: memory does not grow with finished jobs).
    Spool(JobSpool),
    /// In memory, in plan order once finished (a report written to stdout, which must survive a full disk
    /// or a file size limit; a record rebuilt from a journal; tests).
    Memory(Vec<JobRecord>),
}

/// A run's finished jobs: counted as they come (totals, per entry, per target and entry, first start and
/// last end), the records themselves spooled to disk or held in memory, and read back in plan order, all
/// of them or one target's.
#[derive(Debug)]
pub struct JobRows {
    store: RowStore,
    counts: OutcomeCounts,
    /// Per entry, over every target.
    entries: Vec<EntryFacts>,
    /// Per target, then per entry: a few numbers per target and entry, not per job.
    in_targets: Vec<Vec<EntryFacts>>,
}

impl JobRows {
    /// Rows spooled to an unnamed temporary file in `dir`.
    pub fn spooled_in(dir: PathBuf) -> Self {
        Self::with_store(RowStore::Unopened(dir))
    }

    /// Rows held in memory, e.g. rebuilt from a journal.
    pub fn from_records(mut records: Vec<JobRecord>) -> Self {
        records.sort_by_key(|r| r.index);
        let mut rows = Self::with_store(RowStore::Memory(Vec::new()));
        for record in &records {
            rows.count(record);
        }
        rows.store = RowStore::Memory(records);
        rows
    }

    fn with_store(store: RowStore) -> Self {
        Self {
            store,
            counts: OutcomeCounts::default(),
            entries: Vec::new(),
            in_targets: Vec::new(),
        }
    }

    /// Adds one finished job.
    pub fn push(&mut self, record: &JobRecord) -> std::io::Result<()> {
        if let RowStore::Unopened(dir) = &self.store {
            self.store = RowStore::Spool(JobSpool::create_in(dir)?);
        }
        match &mut self.store {
            RowStore::Spool(spool) => spool.push(record)?,
            RowStore::Memory(records) => records.push(record.clone()),
            RowStore::Unopened(_) => {}
        }
        self.count(record);
        Ok(())
    }

    /// Makes every row readable, in plan order.
    fn finish(&mut self) -> std::io::Result<()> {
        match &mut self.store {
            RowStore::Spool(spool) => spool.flush(),
            RowStore::Memory(records) => {
                records.sort_by_key(|r| r.index);
                Ok(())
            }
            RowStore::Unopened(_) => Ok(()),
        }
    }

    fn count(&mut self, record: &JobRecord) {
        self.counts.add(record.outcome);
        let entry = record.index.entry;
        slot_of(&mut self.entries, entry).add(record);
        slot_of(slot_of(&mut self.in_targets, record.target), entry).add(record);
    }

    /// The facts of `entry`, in `target` or in every target.
    fn facts(&self, entry: usize, target: Option<usize>) -> Option<&EntryFacts> {
        match target {
            None => self.entries.get(entry),
            Some(target) => self.in_targets.get(target)?.get(entry),
        }
    }

    /// The rows of `entry` (in `target`, or in every target) in plan order, each named `name`.
    fn entry_rows<'a>(
        &'a self,
        entry: usize,
        target: Option<usize>,
        name: &str,
    ) -> Box<dyn Iterator<Item = std::io::Result<JobRecord>> + 'a> {
        match &self.store {
            RowStore::Spool(spool) => {
                let name = match self.entries.get(entry).and_then(|f| f.name.clone()) {
                    Some(known) if *known == *name => known,
                    _ => Arc::from(name),
                };
                Box::new(spool.rows(entry, target, name))
            }
            RowStore::Memory(records) => {
                let start = records.partition_point(|r| r.index.entry < entry);
                let end = records.partition_point(|r| r.index.entry <= entry);
                Box::new(
                    records[start..end]
                        .iter()
                        .filter(move |r| target.is_none_or(|t| r.target == t))
                        .cloned()
                        .map(Ok),
                )
            }
            RowStore::Unopened(_) => Box::new(std::iter::empty()),
        }
    }
}

/// What the report says about the plan file, known only to the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanMeta {
    /// The plan's path as given.
    pub path: String,
    /// SHA-256 of the plan file's bytes, hex.
    pub sha256: String,
}

/// Where a report goes.
pub enum ReportSink {
    /// A file, written atomically at `RunFinished` (a temporary file beside it, fsync, rename).
    File(PathBuf),
    /// Any writer (stdout for `--output json`, a buffer in tests).
    Writer(Box<dyn Write + Send>),
}

impl std::fmt::Debug for ReportSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportSink::File(path) => f.debug_tuple("File").field(path).finish(),
            ReportSink::Writer(_) => f.write_str("Writer(..)"),
        }
    }
}

/// Everything a report says about a run, accumulated from its events.
#[derive(Debug)]
pub struct RunRecord {
    /// What the command knows about the run.
    pub meta: RunMeta,
    /// Account, region, endpoint, mode and entries, from `RunStarted`.
    pub info: Option<Arc<RunInfo>>,
    /// When the run started.
    pub started_at: Option<Timestamp>,
    /// When the run finished.
    pub finished_at: Option<Timestamp>,
    /// How long the run took.
    pub elapsed: Duration,
    /// Whether the run was cancelled.
    pub interrupted: bool,
    /// Every finished job, counted, and readable in plan order once the run finished.
    pub jobs: JobRows,
}

impl RunRecord {
    /// An empty record of a run described by `meta`, keeping its job records in memory.
    pub fn new(meta: RunMeta) -> Self {
        Self {
            meta,
            info: None,
            started_at: None,
            finished_at: None,
            elapsed: Duration::ZERO,
            interrupted: false,
            jobs: JobRows::from_records(Vec::new()),
        }
    }

    /// The same, spooling its job records to `dir` (the report's own directory, so the spool is on the disk
    /// the report goes to).
    #[must_use]
    pub fn spooled_in(mut self, dir: PathBuf) -> Self {
        self.jobs = JobRows::spooled_in(dir);
        self
    }

    /// Folds one event in; returns `true` at `RunFinished`, when the record is complete and readable in
    /// plan order. Fails when a job record cannot be spooled.
    pub fn observe(&mut self, event: &Event) -> std::io::Result<bool> {
        match &event.kind {
            EventKind::RunStarted(info) => {
                self.info = Some(info.clone());
                self.started_at = Some(event.at);
            }
            EventKind::JobFinished(record) => self.jobs.push(record)?,
            EventKind::RunFinished { interrupted } => {
                self.finished_at = Some(event.at);
                self.elapsed = event.elapsed;
                self.interrupted = *interrupted;
                self.jobs.finish()?;
                return Ok(true);
            }
            _ => {}
        }
        Ok(false)
    }

    /// Jobs per outcome over the whole run.
    pub fn counts(&self) -> OutcomeCounts {
        self.jobs.counts
    }

    /// Every finished job in plan order; call once finished.
    pub fn jobs(&self) -> impl Iterator<Item = std::io::Result<JobRecord>> + '_ {
        self.entries()
            .into_iter()
            .flat_map(|entry| self.jobs.entry_rows(entry.index, entry.target, entry.name))
    }

    /// Where the run acted, in plan order (empty before `RunStarted`).
    pub fn targets(&self) -> &[Target] {
        self.info.as_deref().map_or(&[], |info| &info.targets)
    }

    /// Whether the run names several places (a plan with `targets:`): reports then say which per job.
    pub fn is_multi_target(&self) -> bool {
        self.info.as_deref().is_some_and(RunInfo::is_multi_target)
    }

    /// How `job`'s target is named (its plan name, else `account in region`); `None` when unknown.
    pub fn target_label(&self, job: &JobRecord) -> Option<String> {
        self.targets().get(job.target).map(Target::label)
    }

    /// Every target in plan order with its jobs per outcome; call once finished.
    pub fn by_target(&self) -> Vec<TargetRecords<'_>> {
        self.targets()
            .iter()
            .enumerate()
            .map(|(index, target)| {
                let mut counts = OutcomeCounts::default();
                for facts in self.jobs.in_targets.get(index).into_iter().flatten() {
                    counts.merge(&facts.counts);
                }
                TargetRecords {
                    index,
                    target,
                    counts,
                }
            })
            .collect()
    }

    /// The entries in plan order with their jobs (entries without jobs included); call once finished.
    pub fn entries(&self) -> Vec<EntryRecords<'_>> {
        self.entries_where(None).collect()
    }

    /// The entries in plan order with their jobs in target `target`, leaving out entries without a job
    /// there; call once finished.
    pub fn entries_in(&self, target: usize) -> Vec<EntryRecords<'_>> {
        self.entries_where(Some(target))
            .filter(|entry| !entry.is_empty())
            .collect()
    }

    /// The entries without any job, in plan order.
    pub fn entries_without_jobs(&self) -> Vec<EntryRecords<'_>> {
        self.entries_where(None)
            .filter(EntryRecords::is_empty)
            .collect()
    }

    fn entries_where(&self, target: Option<usize>) -> impl Iterator<Item = EntryRecords<'_>> + '_ {
        let names: &[(Arc<str>, usize)] = self.info.as_deref().map_or(&[], |info| &info.entries);
        let count = self.jobs.entries.len().max(names.len());
        (0..count).map(move |index| {
            let all = self.jobs.entries.get(index);
            let facts = self.jobs.facts(index, target);
            let name = names
                .get(index)
                .map(|(name, _)| &**name)
                .or_else(|| all.and_then(|f| f.name.as_deref()))
                .unwrap_or("");
            EntryRecords {
                index,
                name,
                target,
                first_started: facts.and_then(|f| f.first_started),
                last_finished: facts.and_then(|f| f.last_finished),
                counts: facts.map(|f| f.counts).unwrap_or_default(),
                over_task_condition: facts.map_or(0, |f| f.over_task_condition),
                rows: &self.jobs,
            }
        })
    }
}

/// Synthetic runs for the report writers' tests: every outcome, a failure with code and request id.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use jiff::Timestamp;

    use super::PlanMeta;
    use super::RunMeta;
    use crate::api::{AccountId, ApiCall, ApiError, ApiErrorKind, JobId, JobStatus, TargetStatus};
    use crate::event::{ErrorView, Event, EventKind, JobIndex, JobRecord, RunInfo};
    use crate::exec::Outcome;
    use crate::resolved::{RunMode, Target};

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    pub(crate) struct SharedBuf(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl SharedBuf {
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl std::io::Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    pub(crate) fn at(millis: i64) -> Timestamp {
        Timestamp::from_millisecond(1_780_000_000_000 + millis).unwrap()
    }

    pub(crate) fn event(millis: i64, kind: EventKind) -> Event {
        Event {
            at: at(millis),
            elapsed: Duration::from_millis(millis as u64),
            kind,
        }
    }

    pub(crate) fn meta() -> RunMeta {
        RunMeta {
            reasons_sent: [(
                "cancel-nightly".to_owned(),
                "INC-4242: stop the nightly reindex".to_owned(),
            )]
            .into_iter()
            .collect(),
            plan: PlanMeta {
                path: "plans/cancel|nightly.yaml".to_owned(),
                sha256: "ab".repeat(32),
            },
            operator: Some("arn:aws:iam::111122223333:user/alice".to_owned()),
        }
    }

    fn record(entry: (usize, &str), job: usize, id: &str, outcome: Outcome) -> JobRecord {
        JobRecord {
            index: JobIndex {
                entry: entry.0,
                job,
            },
            target: 0,
            entry: Arc::from(entry.1),
            job_id: JobId::parse(id).unwrap(),
            description: Some(format!("nightly {id}")),
            status_before: Some(JobStatus::Active),
            actions: vec![crate::resolved::Action::SetStatus(TargetStatus::Cancelled)],
            status_after: None,
            outcome,
            attempts: 1,
            waited: Duration::ZERO,
            reason: None,
            request_id: None,
            error: None,
            tasks: Some(crate::api::Progress {
                total_tasks: 20_000,
                succeeded_tasks: 19_588,
                failed_tasks: 412,
                elapsed_active_seconds: 600,
            }),
            failure_reasons: Vec::new(),
            started_at: at(1_000),
            finished_at: at(1_250),
        }
    }

    /// Two entries (`cancel-nightly` with 5 jobs, `confirm-batch` with 2), every outcome, then `RunFinished`.
    pub(crate) fn run_events(mode: RunMode, interrupted: bool) -> Vec<Event> {
        let cancel = (0, "cancel-nightly");
        let confirm = (1, "confirm-batch");
        let info = RunInfo {
            targets: vec![Target {
                name: None,
                account_id: AccountId::parse("111122223333").unwrap(),
                region: "us-east-1".to_owned(),
                endpoint: Some("http://127.0.0.1:9000".to_owned()),
            }],
            mode,
            entries: vec![(Arc::from(cancel.1), 5), (Arc::from(confirm.1), 2)],
            total_jobs: 7,
        };
        let mut applied = record(cancel, 0, "job-applied", Outcome::Applied);
        applied.status_after = Some(JobStatus::Cancelling);
        applied.attempts = 2;
        applied.reason = Some("requested Cancelled; job is now Cancelling".to_owned());
        applied.request_id = Some("REQ000002".to_owned());
        applied.description = Some("nightly | copy\nsecond line".to_owned());
        let mut unchanged = record(cancel, 1, "job-unchanged", Outcome::Unchanged);
        unchanged.status_before = Some(JobStatus::Cancelled);
        unchanged.status_after = Some(JobStatus::Cancelled);
        unchanged.attempts = 0;
        unchanged.reason = Some("already Cancelled".to_owned());
        let mut skipped = record(cancel, 2, "job-skipped", Outcome::Skipped);
        skipped.status_before = Some(JobStatus::Complete);
        skipped.attempts = 0;
        skipped.reason = Some("job is Complete; nothing left to cancel".to_owned());
        let denied = ApiError {
            call: ApiCall::UpdateJobStatus,
            kind: ApiErrorKind::AccessDenied,
            code: Some("AccessDenied".to_owned()),
            message: Some("not allowed".to_owned()),
            request_id: Some("REQ000003".to_owned()),
            http_status: Some(403),
        };
        let mut failed = record(cancel, 3, "job-failed", Outcome::Failed);
        failed.request_id = denied.request_id.clone();
        failed.error = Some(ErrorView::from(&denied));
        failed.reason = Some("UpdateJobStatus failed after 1 attempt".to_owned());
        let mut would = record(cancel, 4, "job-would-apply", Outcome::WouldApply);
        would.reason = Some("dry run: would request Cancelled".to_owned());
        let mut timed_out = record(confirm, 0, "job-timed-out", Outcome::TimedOut);
        timed_out.status_before = Some(JobStatus::Preparing);
        timed_out.actions = vec![crate::resolved::Action::SetStatus(TargetStatus::Ready)];
        timed_out.attempts = 4;
        timed_out.waited = Duration::from_secs(600);
        timed_out.reason = Some("job is still Preparing after 10m; wanted Suspended".to_owned());
        timed_out.request_id = Some("REQ000009".to_owned());
        let mut not_run = record(confirm, 1, "job-not-run", Outcome::NotRun);
        not_run.actions = vec![crate::resolved::Action::SetStatus(TargetStatus::Ready)];
        not_run.attempts = 0;
        not_run.reason = Some("interrupted before it started".to_owned());
        not_run.started_at = not_run.finished_at;
        // Out of plan order on purpose: reports list jobs in plan order.
        let mut events = vec![event(0, EventKind::RunStarted(Arc::new(info)))];
        for (millis, record) in [
            (1_300, failed),
            (1_400, applied),
            (1_500, unchanged),
            (1_600, not_run),
            (1_700, skipped),
            (1_800, would),
            (2_000, timed_out),
        ] {
            events.push(event(millis, EventKind::JobFinished(Box::new(record))));
        }
        events.push(event(4_321, EventKind::RunFinished { interrupted }));
        events
    }
    /// The targets of [`multi_target_events`]: two accounts, two regions, named as a plan names them.
    pub(crate) fn three_targets() -> Vec<Target> {
        let target = |name: &str, account: &str, region: &str| Target {
            name: Some(name.to_owned()),
            account_id: AccountId::parse(account).unwrap(),
            region: region.to_owned(),
            endpoint: Some("http://127.0.0.1:9000".to_owned()),
        };
        vec![
            target("prod-us", "111122223333", "us-east-1"),
            target("dr/us-east-1", "444455556666", "us-east-1"),
            target("dr/us-west-2", "444455556666", "us-west-2"),
        ]
    }

    /// The run of [`run_events`] over [`three_targets`]: `cancel-nightly` acts in all three, `confirm-batch`
    /// (gated) only in `dr/us-west-2`, and a third entry, `suspend-later`, matched no job.
    pub(crate) fn multi_target_events(mode: RunMode, interrupted: bool) -> Vec<Event> {
        run_events(mode, interrupted)
            .into_iter()
            .map(|mut event| {
                match &mut event.kind {
                    EventKind::RunStarted(info) => {
                        let mut multi = (**info).clone();
                        multi.targets = three_targets();
                        multi.entries.push((Arc::from("suspend-later"), 0));
                        *info = Arc::new(multi);
                    }
                    EventKind::JobFinished(record) => {
                        record.target = match record.job_id.as_str() {
                            "job-applied" | "job-would-apply" => 0,
                            "job-unchanged" | "job-failed" => 1,
                            _ => 2,
                        };
                    }
                    _ => {}
                }
                event
            })
            .collect()
    }

    /// The run of [`multi_target_events`] over its first two targets only: the third's jobs go to the second
    /// (`dr/us-east-1`), and one of them, `job-not-run`, ended on its gate's task condition (such jobs are
    /// listed first).
    pub(crate) fn two_target_events(mode: RunMode, interrupted: bool) -> Vec<Event> {
        multi_target_events(mode, interrupted)
            .into_iter()
            .map(|mut event| {
                match &mut event.kind {
                    EventKind::RunStarted(info) => {
                        let mut two = (**info).clone();
                        two.targets.truncate(2);
                        *info = Arc::new(two);
                    }
                    EventKind::JobFinished(record) => {
                        record.target = record.target.min(1);
                        if record.job_id.as_str() == "job-not-run" {
                            record.attempts = 3;
                            record.reason = Some(
                                "watched job has 9 failed tasks, above max_failed_tasks 5"
                                    .to_owned(),
                            );
                        }
                    }
                    _ => {}
                }
                event
            })
            .collect()
    }
}
