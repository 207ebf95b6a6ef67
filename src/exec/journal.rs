//! The pre-send hook of every mutating attempt: an intent is recorded (and awaited) before the request is
//! sent, an acknowledgement after the answer.
//!
//! Owns the `Journal` trait, its no-op default and [`FileJournal`], the write-ahead journal: JSON
//! lines, each intent durable (fsync) before its request is sent, with group commit (every record queued
//! while one fsync runs shares the next one). Does not own reading a journal back (`resume.rs`) or rendering one.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use crate::exec::journal_line::{
    AckLine, CarriedLine, FORMAT_VERSION, IntentLine, JobLine, Line, RunLine, TargetLine, render,
};
use crate::exec::resume::{Prior, Resume};
use crate::resolved::ResolvedPlan;

/// What is about to be sent: the journal's own `intent` line, so what the executor hands over is exactly
/// what is written.
pub type Intent = IntentLine;

/// What the server answered to an intent: the journal's own `ack` line.
pub type Acknowledgement = AckLine;

/// The journal could not record; the request is not sent.
#[derive(Debug, Clone, thiserror::Error)]
#[error("failed to write the journal: {0}")]
pub struct JournalError(pub Arc<std::io::Error>);

impl From<std::io::Error> for JournalError {
    fn from(error: std::io::Error) -> Self {
        Self(Arc::new(error))
    }
}

/// Receives every mutating attempt before it is sent and its answer after.
pub trait Journal: Send + Sync + 'static {
    /// Records `intent` durably; the request is sent only after this resolves `Ok`.
    fn intent<'a>(&'a self, intent: &'a Intent) -> BoxFuture<'a, Result<(), JournalError>>;
    /// Records the answer to an intent.
    fn acknowledge<'a>(
        &'a self,
        ack: &'a Acknowledgement,
    ) -> BoxFuture<'a, Result<(), JournalError>>;
}

/// A journal that records nothing (runs without `--journal`, and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoJournal;

impl Journal for NoJournal {
    fn intent<'a>(&'a self, _intent: &'a Intent) -> BoxFuture<'a, Result<(), JournalError>> {
        Box::pin(async { Ok(()) })
    }
    fn acknowledge<'a>(
        &'a self,
        _ack: &'a Acknowledgement,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        Box::pin(async { Ok(()) })
    }
}

type Pending = (Vec<u8>, oneshot::Sender<Result<(), JournalError>>);

/// The shortest time between the starts of two group commits while records come in groups. A request waits
/// for its intent's commit, so this adds at most this much to a call's latency (an API round trip is tens of
/// ms); it keeps the syncs near 500 a second whatever the call rate.
const GROUP_WINDOW: std::time::Duration = std::time::Duration::from_millis(2);

/// The write-ahead journal in a JSON-lines file. Records are appended by one writer task; each `intent`
/// resolves only after its line is on disk (`sync_data`).
#[derive(Debug, Clone)]
pub struct FileJournal {
    tx: mpsc::UnboundedSender<Pending>,
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "only the group-commit unit test reads the count")
    )]
    commits: Arc<AtomicU64>,
}

impl FileJournal {
    /// Creates (or appends to) the journal at `path`, locks it for this run and starts its writer task. When
    /// another run holds the lock, fails with [`std::io::ErrorKind::WouldBlock`] and writes nothing.
    pub async fn create(path: &Path) -> Result<Self, JournalError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        // Two runs appending to one journal would interleave their records and send every request twice.
        // The lock is released when the writer task drops the file, i.e. when the run ends.
        lock(&file, path)?;
        let mut file = tokio::fs::File::from_std(file);
        sync_parent(path).await?;
        cut_torn_tail(&mut file).await?;
        let file = Arc::new(file.into_std().await);
        let held = sync_delay()?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Pending>();
        let commits = Arc::new(AtomicU64::new(0));
        let counter = commits.clone();
        let shown = Arc::new(path.to_path_buf());
        tokio::spawn(async move {
            let mut failed: Option<JournalError> = None;
            // When the last commit started, and whether it grouped several records.
            let mut last_commit: Option<(tokio::time::Instant, bool)> = None;
            while let Some(first) = rx.recv().await {
                // After a commit of several records, the next starts no sooner than `GROUP_WINDOW` after it:
                // records arriving meanwhile share it. Without the window a fast disk syncs every few records,
                // and each fdatasync costs the process tens of µs of CPU (at 10,000 calls/s: ~10 µs per
                // job). A lone record (one job at a time) is not held back for company that will not come.
                if let Some((last, true)) = last_commit
                    && last.elapsed() < GROUP_WINDOW
                {
                    tokio::time::sleep_until(last + GROUP_WINDOW).await;
                }
                let started = tokio::time::Instant::now();
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                last_commit = Some((started, batch.len() > 1));
                let result = match &failed {
                    Some(error) => Err(error.clone()),
                    None => {
                        let mut bytes = Vec::new();
                        for (line, _) in &batch {
                            bytes.extend_from_slice(line);
                        }
                        // One hand-over to the blocking pool per group commit, write and sync together
                        // (tokio's own file type would hand over the write, the flush and the sync each).
                        let file = file.clone();
                        let shown = shown.clone();
                        let written = tokio::task::spawn_blocking(move || {
                            commit(&file, &bytes, held).map_err(|error| {
                                JournalError::from(std::io::Error::new(
                                    error.kind(),
                                    format!("{}: {error}", shown.display()),
                                ))
                            })
                        })
                        .await
                        .unwrap_or_else(|joined| {
                            Err(JournalError::from(std::io::Error::other(format!(
                                "the journal write stopped: {joined}"
                            ))))
                        });
                        counter.fetch_add(1, Ordering::Relaxed);
                        if let Err(error) = &written {
                            // A journal that failed once cannot promise anything after: refuse every later record.
                            failed = Some(error.clone());
                        }
                        written
                    }
                };
                for (_, reply) in batch {
                    // The waiting attempt may have been dropped (interrupted); nobody is left to tell.
                    let _ = reply.send(result.clone());
                }
            }
        });
        Ok(Self { tx, commits })
    }

    /// fsyncs made so far (fewer than records when commits were grouped).
    #[cfg(test)]
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Records what the run is about to act on (the plan, where, and every job as resolved), durable before it
    /// returns (a few thousand lines a write), so that a report can be rebuilt from the journal alone
    /// (`s3plan report`).
    pub async fn begin(
        &self,
        plan_path: &str,
        plan_sha256: &str,
        resolved: &ResolvedPlan,
        resume: &Resume,
    ) -> Result<(), JournalError> {
        // Written a chunk at a time: the header of a million jobs, as lines then as text, would be the run's
        // largest allocation (several hundred MiB); every chunk is durable before this returns, so still
        // before the first request.
        const CHUNK: usize = 4_096;
        let mut lines = vec![Line::Run(RunLine {
            format: FORMAT_VERSION,
            started_at: jiff::Timestamp::now(),
            plan: plan_path.to_owned(),
            plan_sha256: plan_sha256.to_owned(),
            targets: resolved.targets.iter().map(TargetLine::from).collect(),
            mode: resolved.settings.mode,
        })];
        for entry in &resolved.entries {
            for job in &entry.jobs {
                if lines.len() >= CHUNK {
                    self.append_all(&lines).await?;
                    lines.clear();
                }
                let target = resolved.target_name(job.target());
                lines.push(Line::Job(JobLine {
                    entry: entry.name.clone(),
                    target: target.map(str::to_owned),
                    job: job.id.clone(),
                    description: job.description.as_deref().map(str::to_owned),
                    status_before: job.status_seen,
                    actions: entry.actions.clone(),
                }));
                // What a resumed-from run did travels on, so that this journal alone is a complete record:
                // acknowledged actions, and requests with no recorded answer (if this run is cut short too
                // before it reads such a job, the next resume must still read it first).
                for &action in &entry.actions {
                    let carried = |status, request_id, attempts, uncertain| {
                        Line::Carried(CarriedLine {
                            entry: entry.name.clone(),
                            target: target.map(str::to_owned),
                            job: job.id.clone(),
                            action,
                            status,
                            request_id,
                            attempts,
                            uncertain,
                        })
                    };
                    match resume.get(&entry.name, target, &job.id, action) {
                        Some(Prior::Done {
                            status,
                            request_id,
                            attempts,
                        }) => lines.push(carried(*status, request_id.clone(), *attempts, false)),
                        Some(Prior::Uncertain) => lines.push(carried(None, None, 0, true)),
                        None => {}
                    }
                }
            }
        }
        self.append_all(&lines).await
    }

    async fn append(&self, line: &Line) -> Result<(), JournalError> {
        self.append_all(std::slice::from_ref(line)).await
    }

    async fn append_all(&self, lines: &[Line]) -> Result<(), JournalError> {
        let mut bytes = Vec::new();
        for line in lines {
            render(line, &mut bytes).map_err(std::io::Error::from)?;
        }
        let (reply, done) = oneshot::channel();
        let closed = || JournalError::from(std::io::Error::other("the journal writer stopped"));
        self.tx.send((bytes, reply)).map_err(|_| closed())?;
        done.await.map_err(|_| closed())?
    }
}

/// Appends one group commit's records and makes them durable. A plain file write reports its error at once
/// (disk full, file size limit), so a failed write never reaches `sync_data`.
fn commit(
    mut file: &std::fs::File,
    bytes: &[u8],
    held: Option<std::time::Duration>,
) -> std::io::Result<()> {
    use std::io::Write as _;

    file.write_all(bytes)?;
    if let Some(delay) = held {
        std::thread::sleep(delay);
    }
    file.sync_data()
}

/// The hidden testing knob `S3PLAN_TEST_JOURNAL_SYNC_DELAY` (e.g. `3s`): every group commit waits this long
/// between writing its bytes and syncing them. An fsync cannot be seen from outside the process; holding it
/// makes "written but not yet durable" last long enough for a test to check that no request leaves then.
fn sync_delay() -> Result<Option<std::time::Duration>, JournalError> {
    let Ok(value) = std::env::var("S3PLAN_TEST_JOURNAL_SYNC_DELAY") else {
        return Ok(None);
    };
    humantime::parse_duration(value.trim())
        .map(Some)
        .map_err(|error| {
            JournalError::from(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("S3PLAN_TEST_JOURNAL_SYNC_DELAY={value} is not a duration: {error}"),
            ))
        })
}

/// Whether another run holds the journal at `path` now; `false` when there is no journal there yet. Lets a
/// command refuse before its first call; [`FileJournal::create`] still takes the lock for real.
pub fn held_by_another_run(path: &Path) -> std::io::Result<bool> {
    let file = match std::fs::OpenOptions::new().append(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
    };
    match lock(&file, path) {
        Ok(()) => Ok(false),
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => Ok(true),
        Err(error) => Err(error),
    }
}

/// Takes the exclusive lock of a journal file without waiting (`flock` on Unix, `LockFileEx` on Windows).
fn lock(file: &std::fs::File, path: &Path) -> std::io::Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!("{} is locked by another s3plan run", path.display()),
        )),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

/// Cuts an unterminated last line off a journal about to be appended to. A kill during a write leaves such a
/// line; its request was never sent (sending waits for the whole record to be durable), so it holds nothing,
/// and appending after it would glue the next record onto it: a bad line in the middle, which no reader
/// accepts.
async fn cut_torn_tail(file: &mut tokio::fs::File) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt, SeekFrom};

    let len = file.metadata().await?.len();
    if len == 0 {
        return Ok(());
    }
    // Read backwards in blocks until the last newline is found (a record is small; a torn one smaller).
    let mut end = len;
    let mut keep = 0;
    let mut block = vec![0u8; 4096];
    'search: while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let size = usize::try_from(end - start).unwrap_or(block.len());
        file.seek(SeekFrom::Start(start)).await?;
        file.read_exact(&mut block[..size]).await?;
        if let Some(at) = block[..size].iter().rposition(|&b| b == b'\n') {
            keep = start + at as u64 + 1;
            break 'search;
        }
        end = start;
    }
    if keep < len {
        tracing::warn!(
            bytes = len - keep,
            "the journal ended in a line cut short by an earlier kill; it is cut off before appending"
        );
        file.set_len(keep).await?;
        file.sync_data().await?;
    }
    Ok(())
}

/// Makes the journal's directory entry durable, so that a power loss cannot lose a new file whose records
/// were fsynced (fsync of a file does not cover its name).
async fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        tokio::fs::File::open(parent).await?.sync_all().await
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

impl Journal for FileJournal {
    fn intent<'a>(&'a self, intent: &'a Intent) -> BoxFuture<'a, Result<(), JournalError>> {
        Box::pin(async move { self.append(&Line::Intent(intent.clone())).await })
    }

    fn acknowledge<'a>(
        &'a self,
        ack: &'a Acknowledgement,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        Box::pin(async move { self.append(&Line::Ack(ack.clone())).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiCall, JobId, JobStatus, TargetStatus};
    use crate::resolved::Action;
    use std::time::Duration;

    fn intent(i: u32) -> Intent {
        Intent {
            at: jiff::Timestamp::now(),
            call: ApiCall::UpdateJobStatus,
            entry: "cancel".to_owned(),
            target: None,
            job: JobId::parse(&format!("job-{i:04}")).unwrap(),
            action: Action::SetStatus(TargetStatus::Cancelled),
            reason: Some("incident 42".to_owned()),
            attempt: 1,
        }
    }

    #[tokio::test]
    async fn a_torn_last_line_is_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.journal.jsonl");
        let whole = "{\"record\":\"carried\"}\n";
        std::fs::write(&path, format!("{whole}{{\"record\":\"inte")).unwrap();
        let journal = FileJournal::create(&path).await.unwrap();
        journal.intent(&intent(1)).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], whole.trim_end());
        assert!(lines[1].starts_with("{\"record\":\"intent\""), "{text}");
    }

    #[tokio::test]
    async fn intents_are_durable_lines_and_commits_are_grouped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.journal.jsonl");
        let journal = FileJournal::create(&path).await.unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let journal = journal.clone();
                tokio::spawn(async move { journal.intent(&intent(i)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let ack = Acknowledgement {
            at: jiff::Timestamp::now(),
            call: ApiCall::UpdateJobStatus,
            entry: "cancel".to_owned(),
            target: None,
            job: JobId::parse("job-0000").unwrap(),
            action: Action::SetStatus(TargetStatus::Cancelled),
            attempt: 1,
            status: Some(JobStatus::Cancelling),
            error_code: None,
            request_id: Some("REQ1".to_owned()),
        };
        journal.acknowledge(&ack).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 201);
        assert_eq!(lines[0]["record"], "intent");
        assert_eq!(lines[0]["action"]["set_status"], "Cancelled");
        assert_eq!(lines[0]["call"], "UpdateJobStatus");
        assert_eq!(lines[200]["record"], "ack");
        assert_eq!(lines[200]["status"], "Cancelling");
        assert!(journal.commits() < 201, "{} commits", journal.commits());
    }

    #[tokio::test]
    async fn a_header_longer_than_a_write_keeps_every_job_once_in_plan_order_with_its_target() {
        use crate::api::AccountId;
        use crate::resolved::{
            ResolvedEntry, ResolvedJob, ResolvedPlan, RunMode, RunSettings, Target,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.journal.jsonl");
        let journal = FileJournal::create(&path).await.unwrap();
        let target = |name: &str, region: &str| Target {
            name: Some(name.to_owned()),
            account_id: AccountId::parse("111122223333").unwrap(),
            region: region.to_owned(),
            endpoint: None,
        };
        // Two chunks and a bit, the two targets' jobs alternating.
        let jobs = 2 * 4_096 + 5;
        let plan = ResolvedPlan {
            targets: vec![target("us", "us-east-1"), target("eu", "eu-west-1")],
            settings: RunSettings {
                concurrency: 4,
                rate_limit: 10.0,
                poll_rate_limit: 10.0,
                poll_interval: std::time::Duration::from_secs(5),
                mode: RunMode::Apply,
            },
            entries: vec![ResolvedEntry {
                name: "cancel".to_owned(),
                after: Vec::new(),
                jobs: (0..jobs)
                    .map(|i| ResolvedJob {
                        target: (i % 2) as u32,
                        id: JobId::parse(&format!("job-{i:05}")).unwrap(),
                        description: None,
                        status_seen: JobStatus::Suspended,
                        priority_seen: 10,
                        progress_seen: Default::default(),
                    })
                    .collect(),
                gate: None,
                actions: vec![Action::SetStatus(TargetStatus::Cancelled)],
                reason: None,
            }],
        };
        journal
            .begin("plan.yaml", "ab", &plan, &Resume::default())
            .await
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), jobs + 1);
        assert_eq!(lines[0]["record"], "run");
        for (i, line) in lines[1..].iter().enumerate() {
            assert_eq!(line["record"], "job");
            assert_eq!(line["job"], format!("job-{i:05}"));
            assert_eq!(line["target"], if i % 2 == 0 { "us" } else { "eu" });
        }
        assert!(journal.commits() >= 3, "{} commits", journal.commits());
    }

    #[tokio::test(start_paused = true)]
    async fn a_commit_after_a_group_waits_out_the_window_and_a_lone_record_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.journal.jsonl");
        let journal = FileJournal::create(&path).await.unwrap();
        // Paused time moves only when a timer is waited for: a commit that waits shows as elapsed time.
        let start = tokio::time::Instant::now();
        // One record at a time (one job at a time): no commit waits, however fast they follow each other.
        for i in 0..3 {
            journal.intent(&intent(i)).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        // Both are queued before the writer runs: one commit of two records.
        let (third, fourth) = (intent(3), intent(4));
        let (a, b) = futures::join!(journal.intent(&third), journal.intent(&fourth));
        a.unwrap();
        b.unwrap();
        assert_eq!(journal.commits(), 4);
        // The next commit starts a window after the group's.
        journal.intent(&intent(5)).await.unwrap();
        assert!(start.elapsed() >= GROUP_WINDOW, "{:?}", start.elapsed());
        assert_eq!(journal.commits(), 5);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 6);
    }

    #[test]
    fn a_commit_that_cannot_write_fails_before_it_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.journal.jsonl");
        std::fs::write(&path, "").unwrap();
        // Opened for reading only: the write is refused, and the error is what the commit returns.
        let file = std::fs::File::open(&path).unwrap();
        assert!(commit(&file, b"{}\n", None).is_err());
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        commit(&file, b"{}\n", None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
    }

    #[tokio::test]
    async fn a_journal_in_use_cannot_be_opened_by_a_second_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.journal.jsonl");
        assert!(!held_by_another_run(&path).unwrap(), "no journal yet");
        let first = FileJournal::create(&path).await.unwrap();
        first.intent(&intent(1)).await.unwrap();
        assert!(held_by_another_run(&path).unwrap());
        let second = FileJournal::create(&path).await.unwrap_err();
        assert_eq!(second.0.kind(), std::io::ErrorKind::WouldBlock, "{second}");
        assert!(second.to_string().contains("run.journal.jsonl"), "{second}");
        // The refused opener wrote nothing.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }
}
