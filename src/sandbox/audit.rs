//! The audit log: one [`AuditEntry`] per mutating call (CreateJob, UpdateJobStatus, UpdateJobPriority,
//! Put/DeleteJobTagging), whatever its outcome, kept in memory and optionally appended to a JSON-lines file;
//! plus [`CallCounts`], the number of calls of every operation (reads included).
//!
//! Owns recording and querying. Does not decide outcomes (see `router.rs`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::error::SandboxError;
use super::operation::Operation;

/// One mutating call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// Wall-clock time of the call (RFC 3339).
    pub time: String,
    /// Sandbox time of the call (RFC 3339).
    pub sandbox_time: String,
    /// The operation.
    pub operation: Operation,
    /// `x-amz-account-id`, when sent.
    pub account: Option<String>,
    /// The job id from the path, or the created job's id for CreateJob.
    pub job_id: Option<String>,
    /// Request parameters (query parameters, plus a few body fields for CreateJob/PutJobTagging).
    pub params: BTreeMap<String, String>,
    /// `"ok"`, the AWS error code answered, or `"dropped"` for a closed connection.
    pub outcome: String,
    /// HTTP status answered (`None` when the connection was dropped).
    pub http_status: Option<u16>,
    /// For UpdateJobStatus successes: the status answered.
    pub result_status: Option<String>,
    /// `x-amz-request-id` of the response.
    pub request_id: String,
}

impl AuditEntry {
    /// Whether the call succeeded (the state may have changed).
    pub fn is_ok(&self) -> bool {
        self.outcome == "ok"
    }
}

/// In-memory audit log with an optional JSON-lines mirror.
#[derive(Debug, Default)]
pub(crate) struct AuditLog {
    entries: Mutex<Vec<AuditEntry>>,
    file: Mutex<Option<std::io::LineWriter<std::fs::File>>>,
}

impl AuditLog {
    /// A log mirrored to `path` (created or appended to) when given.
    pub(crate) fn new(path: Option<&Path>) -> Result<Self, SandboxError> {
        let file = match path {
            Some(path) => Some(std::io::LineWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| SandboxError::AuditLog {
                        path: path.to_owned(),
                        source,
                    })?,
            )),
            None => None,
        };
        Ok(AuditLog {
            entries: Mutex::new(Vec::new()),
            file: Mutex::new(file),
        })
    }

    /// Appends an entry (its `seq` is assigned here).
    pub(crate) fn record(&self, mut entry: AuditEntry) {
        {
            let mut entries = lock(&self.entries);
            entry.seq = entries.len() as u64 + 1;
            entries.push(entry.clone());
        }
        let mut file = lock(&self.file);
        if let Some(writer) = file.as_mut() {
            let written = serde_json::to_string(&entry)
                .map_err(std::io::Error::other)
                .and_then(|line| writeln!(writer, "{line}"));
            if let Err(err) = written {
                tracing::warn!(
                    "failed to write the audit log file, continuing in memory only: {err}"
                );
                *file = None;
            }
        }
    }

    /// A copy of every entry so far.
    pub(crate) fn entries(&self) -> Vec<AuditEntry> {
        lock(&self.entries).clone()
    }

    /// Entries matching `operation` and `job_id` (each `None` matches all).
    pub(crate) fn filter(
        &self,
        operation: Option<Operation>,
        job_id: Option<&str>,
    ) -> Vec<AuditEntry> {
        lock(&self.entries)
            .iter()
            .filter(|e| operation.is_none_or(|op| e.operation == op))
            .filter(|e| job_id.is_none_or(|id| e.job_id.as_deref() == Some(id)))
            .cloned()
            .collect()
    }
}

/// Calls per operation since start (every call that reached a job route, whatever its outcome).
#[derive(Debug, Default)]
pub(crate) struct CallCounts {
    counts: [AtomicU64; Operation::ALL.len()],
}

impl CallCounts {
    /// Counts one call.
    pub(crate) fn add(&self, op: Operation) {
        self.counts[op.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Calls of `op`.
    pub(crate) fn get(&self, op: Operation) -> u64 {
        self.counts[op.index()].load(Ordering::Relaxed)
    }

    /// Every operation's count.
    pub(crate) fn all(&self) -> BTreeMap<Operation, u64> {
        Operation::ALL
            .into_iter()
            .map(|op| (op, self.get(op)))
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Entries are appended whole; a panic elsewhere cannot leave one half-written.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(op: Operation, job: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            time: "t".into(),
            sandbox_time: "s".into(),
            operation: op,
            account: Some("111122223333".into()),
            job_id: Some(job.into()),
            params: BTreeMap::new(),
            outcome: "ok".into(),
            http_status: Some(200),
            result_status: None,
            request_id: "R".into(),
        }
    }

    #[test]
    fn records_filters_and_mirrors_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::new(Some(&path)).unwrap();
        log.record(entry(Operation::UpdateJobStatus, "job-1"));
        log.record(entry(Operation::UpdateJobPriority, "job-1"));
        log.record(entry(Operation::UpdateJobStatus, "job-2"));
        assert_eq!(log.filter(Some(Operation::UpdateJobStatus), None).len(), 2);
        let one = log.filter(Some(Operation::UpdateJobStatus), Some("job-2"));
        assert_eq!(one[0].seq, 3);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<AuditEntry> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, log.entries());
    }
}
