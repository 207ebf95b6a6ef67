//! The S3 Batch Operations job API as s3plan sees it: the `JobControl` trait and its own types.
//!
//! Owns identifiers (`JobId`, `AccountId`), statuses, the data the calls return and `ApiError`, the one
//! classification of every failure. Does not own any SDK type: only `api/aws.rs` talks to the SDK, so the
//! executor and its tests never depend on it (mountpoint-s3 puts S3 behind `ObjectClient` the same way).

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A Batch Operations job id: 5 to 36 characters of `[a-zA-Z0-9_-]` (the API's own pattern).
///
/// Stored inline (its bytes and length, no heap allocation): a run holds one per resolved job, and a
/// 36-character id in a `String` costs 72 bytes where this costs 37. Compares, orders and hashes as its text.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId {
    len: u8,
    bytes: [u8; JobId::MAX_LEN],
}

/// Why a string is not a valid [`JobId`] or [`AccountId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The job id breaks the API's pattern.
    #[error("job id `{0}` is not 5 to 36 characters of letters, digits, `-` or `_`")]
    JobId(String),
    /// The account id breaks the API's pattern.
    #[error("account id `{0}` is not 12 digits")]
    AccountId(String),
}

impl JobId {
    /// The longest id the API allows.
    const MAX_LEN: usize = 36;

    /// Checks `id` against the API's pattern.
    pub fn parse(id: &str) -> Result<Self, IdError> {
        let valid = (5..=Self::MAX_LEN).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(IdError::JobId(id.to_owned()));
        }
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        Ok(Self {
            len: id.len() as u8,
            bytes,
        })
    }

    /// The id as sent on the wire.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)])
            .expect("parse admits only ASCII letters, digits, `-` and `_`")
    }
}

impl PartialEq for JobId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for JobId {}

impl PartialOrd for JobId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for JobId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for JobId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JobId").field(&self.as_str()).finish()
    }
}

impl TryFrom<String> for JobId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<JobId> for String {
    fn from(value: JobId) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An AWS account id: exactly 12 digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// Checks `id` against the API's pattern `^\d{12}$`.
    pub fn parse(id: &str) -> Result<Self, IdError> {
        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(id.to_owned()))
        } else {
            Err(IdError::AccountId(id.to_owned()))
        }
    }

    /// The id as sent in `x-amz-account-id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AccountId> for String {
    fn from(value: AccountId) -> Self {
        value.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The 13 job statuses of the API, spelled exactly as on the wire.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum JobStatus {
    /// Just created.
    New,
    /// Manifest being read.
    Preparing,
    /// Waiting for the owner's confirmation.
    Suspended,
    /// Confirmed (or needing none), queued to run.
    Ready,
    /// Running tasks.
    Active,
    /// Being pre-empted by a higher-priority job.
    Pausing,
    /// Pre-empted; resumes by itself.
    Paused,
    /// Finishing its last tasks.
    Completing,
    /// Every task attempted. Terminal.
    Complete,
    /// Being cancelled.
    Cancelling,
    /// Cancelled. Terminal.
    Cancelled,
    /// Failing on a job-level error.
    Failing,
    /// Failed. Terminal.
    Failed,
}

impl JobStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [JobStatus; 13] = [
        JobStatus::New,
        JobStatus::Preparing,
        JobStatus::Suspended,
        JobStatus::Ready,
        JobStatus::Active,
        JobStatus::Pausing,
        JobStatus::Paused,
        JobStatus::Completing,
        JobStatus::Complete,
        JobStatus::Cancelling,
        JobStatus::Cancelled,
        JobStatus::Failing,
        JobStatus::Failed,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::New => "New",
            JobStatus::Preparing => "Preparing",
            JobStatus::Suspended => "Suspended",
            JobStatus::Ready => "Ready",
            JobStatus::Active => "Active",
            JobStatus::Pausing => "Pausing",
            JobStatus::Paused => "Paused",
            JobStatus::Completing => "Completing",
            JobStatus::Complete => "Complete",
            JobStatus::Cancelling => "Cancelling",
            JobStatus::Cancelled => "Cancelled",
            JobStatus::Failing => "Failing",
            JobStatus::Failed => "Failed",
        }
    }

    /// `Complete`, `Cancelled` and `Failed` never change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Complete | JobStatus::Cancelled | JobStatus::Failed
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status string that is not one of the 13 the API defines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a job status")]
pub struct UnknownStatusError(pub String);

impl FromStr for JobStatus {
    type Err = UnknownStatusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatusError(s.to_owned()))
    }
}

/// What UpdateJobStatus may ask for: the API accepts exactly these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum TargetStatus {
    /// Confirm a `Suspended` job.
    Ready,
    /// Cancel a job.
    Cancelled,
}

impl TargetStatus {
    /// The wire spelling (`requestedJobStatus`).
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Ready => "Ready",
            TargetStatus::Cancelled => "Cancelled",
        }
    }
}

impl fmt::Display for TargetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Task counters of a job (`ProgressSummary`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// `TotalNumberOfTasks`.
    pub total_tasks: i64,
    /// `NumberOfTasksSucceeded`.
    pub succeeded_tasks: i64,
    /// `NumberOfTasksFailed`.
    pub failed_tasks: i64,
    /// `Timers/ElapsedTimeInActiveSeconds`.
    pub elapsed_active_seconds: i64,
}

/// One job as ListJobs and DescribeJob both describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    /// The job's id.
    pub id: JobId,
    /// `Description`, when the job has one.
    pub description: Option<String>,
    /// The operation name (`LambdaInvoke`, `S3PutObjectCopy`, ...), when known.
    pub operation: Option<String>,
    /// `Priority`.
    pub priority: i32,
    /// `Status`.
    pub status: JobStatus,
    /// `CreationTime`.
    pub creation_time: Option<Timestamp>,
    /// `TerminationDate`, set once terminal.
    pub termination_date: Option<Timestamp>,
    /// `ProgressSummary`.
    pub progress: Progress,
}

/// The answer of DescribeJob: the summary plus what only DescribeJob returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDescription {
    /// The fields ListJobs also returns.
    pub summary: JobSummary,
    /// `StatusUpdateReason` of the last UpdateJobStatus.
    pub status_update_reason: Option<String>,
    /// `SuspendedCause`.
    pub suspended_cause: Option<String>,
    /// `FailureReasons`, as `code: reason`.
    pub failure_reasons: Vec<String>,
    /// `ConfirmationRequired`.
    pub confirmation_required: Option<bool>,
    /// Where the job's inputs and outputs are, for people looking at one job (`s3plan jobs JOB_ID`).
    #[serde(default)]
    pub details: JobDetails,
}

/// What DescribeJob tells about a job's set-up beyond its status: only shown, never decided on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDetails {
    /// `RoleArn`.
    pub role_arn: Option<String>,
    /// `Manifest/Location`: the object ARN, with `#version` when versioned.
    pub manifest: Option<String>,
    /// `Manifest/Location/ETag`.
    pub manifest_etag: Option<String>,
    /// Whether the manifest is generated by S3 (`ManifestGenerator`) instead of read from an object.
    pub manifest_generated: bool,
    /// `Report`: `s3://bucket/prefix`, when a completion report is written.
    pub report: Option<String>,
    /// `Report/ReportScope` (`AllTasks`, `FailedTasksOnly`).
    pub report_scope: Option<String>,
    /// `SuspendedDate`.
    pub suspended_date: Option<Timestamp>,
}

/// One page of ListJobs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobPage {
    /// The jobs on this page.
    pub jobs: Vec<JobSummary>,
    /// The token for the next page; `None` on the last one.
    pub next_token: Option<String>,
}

/// A successful answer, with the request id the server gave it (for the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    /// The decoded answer.
    pub value: T,
    /// `x-amz-request-id` (or `x-amzn-requestid`) of the response.
    pub request_id: Option<String>,
}

/// A job tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// The calls s3plan makes, named as AWS names them (used in errors, events and the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApiCall {
    /// `DescribeJob`.
    DescribeJob,
    /// `ListJobs`.
    ListJobs,
    /// `UpdateJobStatus`.
    UpdateJobStatus,
    /// `UpdateJobPriority`.
    UpdateJobPriority,
    /// `GetJobTagging`.
    GetJobTagging,
    /// STS `GetCallerIdentity`.
    GetCallerIdentity,
}

impl ApiCall {
    /// Whether the call changes a job (and so is journaled and rate limited as a mutation).
    pub fn is_mutation(self) -> bool {
        matches!(self, ApiCall::UpdateJobStatus | ApiCall::UpdateJobPriority)
    }

    /// The AWS operation name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiCall::DescribeJob => "DescribeJob",
            ApiCall::ListJobs => "ListJobs",
            ApiCall::UpdateJobStatus => "UpdateJobStatus",
            ApiCall::UpdateJobPriority => "UpdateJobPriority",
            ApiCall::GetJobTagging => "GetJobTagging",
            ApiCall::GetCallerIdentity => "GetCallerIdentity",
        }
    }
}

impl fmt::Display for ApiCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of failure an API call met; decides retrying and the hint shown to the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorKind {
    /// `TooManyRequestsException` or another throttling code. Retried, and slows the whole plan.
    Throttled,
    /// A 5xx answer (`InternalServiceException`, 502, 503, 504). Retried.
    ServerError,
    /// The call timed out. Retried.
    Timeout,
    /// The connection failed or dropped before an answer. Retried.
    Connection,
    /// `NotFoundException`: no such job in this account and region.
    NotFound,
    /// `JobStatusException`: the job's status does not allow the request.
    JobStatusConflict,
    /// `BadRequestException`, `InvalidRequestException` and other 4xx the caller caused.
    BadRequest,
    /// `AccessDenied` and other 403s: missing permission.
    AccessDenied,
    /// Credentials missing, expired or wrong (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, ...).
    InvalidCredentials,
    /// The answer could not be understood (malformed XML, unknown status value, ...).
    MalformedResponse,
    /// The request could not be built or something else went wrong locally.
    Other,
}

impl ApiErrorKind {
    /// Every kind.
    pub const ALL: [ApiErrorKind; 11] = [
        ApiErrorKind::Throttled,
        ApiErrorKind::ServerError,
        ApiErrorKind::Timeout,
        ApiErrorKind::Connection,
        ApiErrorKind::NotFound,
        ApiErrorKind::JobStatusConflict,
        ApiErrorKind::BadRequest,
        ApiErrorKind::AccessDenied,
        ApiErrorKind::InvalidCredentials,
        ApiErrorKind::MalformedResponse,
        ApiErrorKind::Other,
    ];

    /// The stable name written to journals and reports as the error code of a failure without an AWS code
    /// (a timeout, a dropped connection). These names are on disk: never rename one.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiErrorKind::Throttled => "Throttled",
            ApiErrorKind::ServerError => "ServerError",
            ApiErrorKind::Timeout => "Timeout",
            ApiErrorKind::Connection => "Connection",
            ApiErrorKind::NotFound => "NotFound",
            ApiErrorKind::JobStatusConflict => "JobStatusConflict",
            ApiErrorKind::BadRequest => "BadRequest",
            ApiErrorKind::AccessDenied => "AccessDenied",
            ApiErrorKind::InvalidCredentials => "InvalidCredentials",
            ApiErrorKind::MalformedResponse => "MalformedResponse",
            ApiErrorKind::Other => "Other",
        }
    }

    /// Transient failures: worth another attempt.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ApiErrorKind::Throttled
                | ApiErrorKind::ServerError
                | ApiErrorKind::Timeout
                | ApiErrorKind::Connection
        )
    }
}

/// A failed API call, classified once (in `api/aws.rs`, or by the fake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call} failed: {}", self.describe())]
pub struct ApiError {
    /// Which call failed.
    pub call: ApiCall,
    /// What kind of failure it was.
    pub kind: ApiErrorKind,
    /// The AWS error code, when the server sent one.
    pub code: Option<String>,
    /// The server's (or transport's) message.
    pub message: Option<String>,
    /// The request id of the failed response, when there was one.
    pub request_id: Option<String>,
    /// The HTTP status, when a response arrived.
    pub http_status: Option<u16>,
}

impl ApiError {
    /// A failure with no server answer.
    pub fn local(call: ApiCall, kind: ApiErrorKind, message: impl Into<String>) -> Self {
        Self {
            call,
            kind,
            code: None,
            message: Some(message.into()),
            request_id: None,
            http_status: None,
        }
    }

    fn describe(&self) -> String {
        let mut text = match (&self.code, &self.message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.clone(),
            (None, Some(message)) => message.clone(),
            (None, None) => format!("{:?}", self.kind),
        };
        if let Some(status) = self.http_status {
            text.push_str(&format!(" (HTTP {status})"));
        }
        if let Some(id) = &self.request_id {
            text.push_str(&format!(" [request id {id}]"));
        }
        text
    }
}

/// The job API, as the resolver and the executor use it. One value talks to one account in one region.
///
/// Implementations make exactly one attempt per call (no hidden retries), so the caller's limiter and retry
/// layer see every request.
pub trait JobControl: Send + Sync + 'static {
    /// DescribeJob.
    fn describe_job(
        &self,
        job: &JobId,
    ) -> impl Future<Output = Result<Answer<JobDescription>, ApiError>> + Send;

    /// One page of ListJobs, filtered server-side by `statuses` (all statuses when empty).
    fn list_jobs(
        &self,
        statuses: &[JobStatus],
        next_token: Option<&str>,
        max_results: i32,
    ) -> impl Future<Output = Result<Answer<JobPage>, ApiError>> + Send;

    /// UpdateJobStatus; answers the status the server reports after the request.
    fn update_job_status(
        &self,
        job: &JobId,
        target: TargetStatus,
        reason: Option<&str>,
    ) -> impl Future<Output = Result<Answer<JobStatus>, ApiError>> + Send;

    /// UpdateJobPriority; answers the priority the server reports.
    fn update_job_priority(
        &self,
        job: &JobId,
        priority: i32,
    ) -> impl Future<Output = Result<Answer<i32>, ApiError>> + Send;

    /// GetJobTagging.
    fn get_job_tagging(
        &self,
        job: &JobId,
    ) -> impl Future<Output = Result<Answer<Vec<Tag>>, ApiError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_compare_order_hash_and_print_as_their_text() {
        let ids = [
            "job-b",
            "job-aaaa",
            "93735294-df46-44d5-8638-6356f335324e",
            "JOB_z",
        ];
        let mut parsed: Vec<JobId> = ids.iter().map(|id| JobId::parse(id).unwrap()).collect();
        parsed.sort();
        let mut texts = ids.to_vec();
        texts.sort_unstable();
        let sorted: Vec<&str> = parsed.iter().map(JobId::as_str).collect();
        assert_eq!(sorted, texts, "ordered as text, not by length");
        let set: std::collections::HashSet<JobId> = parsed.iter().cloned().collect();
        assert!(set.contains(&JobId::parse("job-b").unwrap()));
        assert_ne!(
            JobId::parse("job-b").unwrap(),
            JobId::parse("job-bb").unwrap()
        );
        let id = JobId::parse("job-aaaa").unwrap();
        assert_eq!(format!("{id} {id:?}"), "job-aaaa JobId(\"job-aaaa\")");
        assert_eq!(String::from(id.clone()), "job-aaaa");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"job-aaaa\"");
        assert_eq!(serde_json::from_str::<JobId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<JobId>("\"abc\"").is_err());
    }

    #[test]
    fn job_ids_follow_the_api_pattern() {
        for (input, valid) in [
            ("93735294-df46-44d5-8638-6356f335324e", true),
            ("job_1", true),
            ("abcd", false),
            ("a".repeat(37).as_str(), false),
            ("has space", false),
            ("ünï-code", false),
        ] {
            assert_eq!(JobId::parse(input).is_ok(), valid, "{input}");
        }
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(AccountId::parse("111122223333").is_ok());
        assert!(AccountId::parse("11112222333").is_err());
        assert!(AccountId::parse("11112222333a").is_err());
    }

    #[test]
    fn statuses_round_trip_through_their_wire_names() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>(), Ok(status));
        }
        assert!("Canceled".parse::<JobStatus>().is_err());
    }

    #[test]
    fn only_transient_kinds_retry() {
        assert!(ApiErrorKind::Throttled.is_retryable());
        assert!(ApiErrorKind::Connection.is_retryable());
        assert!(!ApiErrorKind::JobStatusConflict.is_retryable());
        assert!(!ApiErrorKind::NotFound.is_retryable());
        assert!(!ApiErrorKind::AccessDenied.is_retryable());
    }
}
