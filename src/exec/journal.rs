//! The pre-send hook of every mutating attempt: an intent is recorded (and awaited) before the request is
//! sent, an acknowledgement after the answer.
//!
//! Owns the `Journal` trait and its no-op default. The durable write-ahead journal of issue 6 (JSON lines,
//! fsync, group commit) implements this trait; it does not live here yet.

use futures::future::BoxFuture;

use crate::api::{ApiCall, JobId, JobStatus, TargetStatus};

/// What is about to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The entry's name.
    pub entry: String,
    /// The job.
    pub job: JobId,
    /// `UpdateJobStatus` or `UpdateJobPriority`.
    pub call: ApiCall,
    /// The requested status, for UpdateJobStatus.
    pub target: Option<TargetStatus>,
    /// The requested priority, for UpdateJobPriority.
    pub priority: Option<i32>,
    /// The `StatusUpdateReason` sent.
    pub reason: Option<String>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// What the server answered to an intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The job.
    pub job: JobId,
    /// The call.
    pub call: ApiCall,
    /// The attempt answered.
    pub attempt: u32,
    /// The status answered by UpdateJobStatus, when it succeeded.
    pub status: Option<JobStatus>,
    /// The AWS error code, when it failed.
    pub error_code: Option<String>,
    /// The request id of the answer.
    pub request_id: Option<String>,
}

/// The journal could not record; the request is not sent.
#[derive(Debug, thiserror::Error)]
#[error("failed to write the journal: {0}")]
pub struct JournalError(#[from] pub std::io::Error);

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
