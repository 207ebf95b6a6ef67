//! `JobControl` over aws-sdk-s3control, and the one classification of SDK errors into `ApiError`.
//!
//! Owns the mapping between SDK types and ours: statuses (an unknown value is a malformed answer, not a
//! panic), timestamps, request ids (read from `x-amzn-requestid`/`x-amz-request-id` on every answer, success
//! or failure), and error kinds (the AWS code first, since S3 Control names its errors; the HTTP status when the body had none,
//! transport failures as `Connection`/`Timeout`). Makes exactly one attempt per call: the client is built
//! with SDK retries off (`client.rs`). Does not build clients or decide about retries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_s3control::Client;
use aws_sdk_s3control::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3control::operation::RequestId;
use aws_sdk_s3control::types::{
    JobListDescriptor, JobProgressSummary, JobStatus as SdkJobStatus, RequestedJobStatus,
};
use aws_smithy_types::DateTime;

use crate::api::{
    AccountId, Answer, ApiCall, ApiError, ApiErrorKind, JobControl, JobDescription, JobDetails,
    JobId, JobPage, JobStatus, JobSummary, Progress, Tag, TargetStatus,
};

/// Throttling codes, as the SDK's own classifier lists them (`aws-runtime` `THROTTLING_ERRORS`).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Codes meaning the credentials themselves are wrong, missing or expired.
const CREDENTIAL_CODES: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "MissingAuthenticationToken",
    "AuthFailure",
];

/// The job API of one account, through the SDK.
#[derive(Debug, Clone)]
pub struct AwsJobControl {
    client: Client,
    account: AccountId,
    health: Arc<CallHealth>,
}

impl AwsJobControl {
    /// Calls go to `account` through `client` (built by `client.rs`).
    pub fn new(client: Client, account: AccountId) -> Self {
        Self {
            client,
            account,
            health: Arc::default(),
        }
    }

    /// What the calls so far met, shared by every clone.
    pub fn health(&self) -> &CallHealth {
        &self.health
    }
}

/// Whether the endpoint has been answering: read by "still working" notes, so that a wait caused by
/// failing calls (nothing listening, a wrong region) is not blamed on the rate limits.
#[derive(Debug, Default)]
pub struct CallHealth {
    /// Failures since the last answer (any answer, error answers with a code included, resets it).
    failing: AtomicU64,
    /// The latest failure, as its one-line description.
    last: Mutex<Option<String>>,
}

impl CallHealth {
    fn answered(&self) {
        self.failing.store(0, Ordering::Relaxed);
    }

    fn failed(&self, error: ApiError) -> ApiError {
        // An error the server sent (it has a code) is an answer: the endpoint is there.
        if error.code.is_some() {
            self.answered();
        } else {
            self.failing.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = self.last.lock() {
                *last = Some(error.to_string());
            }
        }
        error
    }

    /// The calls failed without an answer since the last answer, and the latest such failure.
    pub fn failing(&self) -> Option<(u64, String)> {
        let count = self.failing.load(Ordering::Relaxed);
        if count == 0 {
            return None;
        }
        let last = self.last.lock().ok()?.clone()?;
        Some((count, last))
    }
}

/// Classifies an error code (and, without one, the HTTP status) into a kind.
pub fn classify_code(code: Option<&str>, http_status: Option<u16>) -> ApiErrorKind {
    if let Some(code) = code {
        let kind = match code {
            c if THROTTLING_CODES.contains(&c) => Some(ApiErrorKind::Throttled),
            c if CREDENTIAL_CODES.contains(&c) => Some(ApiErrorKind::InvalidCredentials),
            "RequestTimeout" | "RequestTimeoutException" => Some(ApiErrorKind::Timeout),
            "NotFoundException" | "NoSuchJob" | "NoSuchJobException" => {
                Some(ApiErrorKind::NotFound)
            }
            "JobStatusException" => Some(ApiErrorKind::JobStatusConflict),
            "InternalServiceException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable" => Some(ApiErrorKind::ServerError),
            "AccessDenied" | "AccessDeniedException" | "AllAccessDisabled" => {
                Some(ApiErrorKind::AccessDenied)
            }
            "BadRequestException"
            | "InvalidRequest"
            | "InvalidRequestException"
            | "InvalidNextTokenException"
            | "ValidationException"
            | "TooManyTagsException"
            | "IdempotencyException" => Some(ApiErrorKind::BadRequest),
            _ => None,
        };
        if let Some(kind) = kind {
            return kind;
        }
    }
    match http_status {
        Some(429) => ApiErrorKind::Throttled,
        Some(500..=599) => ApiErrorKind::ServerError,
        Some(401) => ApiErrorKind::InvalidCredentials,
        Some(403) => ApiErrorKind::AccessDenied,
        // S3 Control answers a missing job with a `NotFoundException` body; a bare 404 or 405 (a web
        // server, a wrong path, an S3 endpoint for objects) means the endpoint does not speak this API.
        Some(404 | 405) if code.is_none() => ApiErrorKind::MalformedResponse,
        Some(404) => ApiErrorKind::NotFound,
        Some(400..=499) => ApiErrorKind::BadRequest,
        Some(200..=299) => ApiErrorKind::MalformedResponse,
        _ => ApiErrorKind::Other,
    }
}

/// Classifies one SDK failure of `call`, once.
fn classify<E>(call: ApiCall, error: SdkError<E>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let request_id = error.request_id().map(str::to_owned);
    let http_status = error.raw_response().map(|r| r.status().as_u16());
    // An empty `<Code/>` names no error: treat it as no code at all.
    let code = error
        .code()
        .filter(|code| !code.is_empty())
        .map(str::to_owned);
    let message = error
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| error_chain(&error));
    let kind = match &error {
        SdkError::ConstructionFailure(_) => ApiErrorKind::Other,
        SdkError::TimeoutError(_) => ApiErrorKind::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => ApiErrorKind::Timeout,
        // hyper's "connection closed before message completed" (a dropped connection) arrives as `Other`
        // marked transient: it is a connection failure, retried like one.
        SdkError::DispatchFailure(failure)
            if failure.as_other() == Some(aws_smithy_types::retry::ErrorKind::TransientError) =>
        {
            ApiErrorKind::Connection
        }
        SdkError::DispatchFailure(failure) if failure.is_user() || failure.is_other() => {
            ApiErrorKind::Other
        }
        SdkError::DispatchFailure(_) => ApiErrorKind::Connection,
        SdkError::ResponseError(_) => match http_status {
            Some(200..=299 | 404 | 405) => ApiErrorKind::MalformedResponse,
            Some(status) if status >= 500 => ApiErrorKind::ServerError,
            _ => ApiErrorKind::Connection,
        },
        SdkError::ServiceError(_) => classify_code(code.as_deref(), http_status),
        _ => ApiErrorKind::Other,
    };
    let message = match (kind, &code, http_status) {
        (ApiErrorKind::MalformedResponse, None, Some(400..=499)) => {
            "the endpoint did not speak the S3 Control API: the answer has no S3 Control error"
                .to_owned()
        }
        _ => message,
    };
    ApiError {
        call,
        kind,
        code,
        message: Some(message),
        request_id,
        http_status,
    }
}

/// Every cause of `error`, outermost first, joined with `: ` (each message once). The SDK's own
/// `DisplayErrorContext` also appends the `Debug` form, which buries the cause a person can act on.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !text.is_empty() && !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}

/// A one-line description of an STS failure (used when the account id cannot be found).
pub fn describe_sts_error<E>(error: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("GetCallerIdentity failed: {code}: {message}"),
        _ => format!("GetCallerIdentity failed: {}", error_chain(error)),
    }
}

fn malformed(call: ApiCall, request_id: Option<&str>, message: String) -> ApiError {
    ApiError {
        call,
        kind: ApiErrorKind::MalformedResponse,
        code: None,
        message: Some(message),
        request_id: request_id.map(str::to_owned),
        http_status: Some(200),
    }
}

fn status(
    call: ApiCall,
    request_id: Option<&str>,
    status: Option<&SdkJobStatus>,
) -> Result<JobStatus, ApiError> {
    let Some(status) = status else {
        return Err(malformed(
            call,
            request_id,
            "the answer has no job status".to_owned(),
        ));
    };
    status
        .as_str()
        .parse()
        .map_err(|e: crate::api::UnknownStatusError| malformed(call, request_id, e.to_string()))
}

fn timestamp(time: Option<&DateTime>) -> Option<jiff::Timestamp> {
    let time = time?;
    jiff::Timestamp::new(time.secs(), i32::try_from(time.subsec_nanos()).ok()?).ok()
}

fn progress(summary: Option<&JobProgressSummary>) -> Progress {
    let Some(summary) = summary else {
        return Progress::default();
    };
    Progress {
        total_tasks: summary.total_number_of_tasks().unwrap_or(0),
        succeeded_tasks: summary.number_of_tasks_succeeded().unwrap_or(0),
        failed_tasks: summary.number_of_tasks_failed().unwrap_or(0),
        elapsed_active_seconds: summary
            .timers()
            .and_then(|t| t.elapsed_time_in_active_seconds())
            .unwrap_or(0),
    }
}

fn job_id(call: ApiCall, request_id: Option<&str>, id: Option<&str>) -> Result<JobId, ApiError> {
    let id =
        id.ok_or_else(|| malformed(call, request_id, "the answer has no job id".to_owned()))?;
    JobId::parse(id).map_err(|e| malformed(call, request_id, e.to_string()))
}

fn list_entry(request_id: Option<&str>, job: &JobListDescriptor) -> Result<JobSummary, ApiError> {
    let call = ApiCall::ListJobs;
    Ok(JobSummary {
        id: job_id(call, request_id, job.job_id())?,
        description: job.description().map(str::to_owned),
        operation: job.operation().map(|o| o.as_str().to_owned()),
        priority: job.priority(),
        status: status(call, request_id, job.status())?,
        creation_time: timestamp(job.creation_time()),
        termination_date: timestamp(job.termination_date()),
        progress: progress(job.progress_summary()),
    })
}

/// The name of the operation set in a DescribeJob answer (the API sets exactly one).
fn operation_name(operation: &aws_sdk_s3control::types::JobOperation) -> Option<String> {
    let name = if operation.lambda_invoke().is_some() {
        "LambdaInvoke"
    } else if operation.s3_put_object_copy().is_some() {
        "S3PutObjectCopy"
    } else if operation.s3_put_object_acl().is_some() {
        "S3PutObjectAcl"
    } else if operation.s3_put_object_tagging().is_some() {
        "S3PutObjectTagging"
    } else if operation.s3_delete_object_tagging().is_some() {
        "S3DeleteObjectTagging"
    } else if operation.s3_initiate_restore_object().is_some() {
        "S3InitiateRestoreObject"
    } else if operation.s3_put_object_legal_hold().is_some() {
        "S3PutObjectLegalHold"
    } else if operation.s3_put_object_retention().is_some() {
        "S3PutObjectRetention"
    } else if operation.s3_replicate_object().is_some() {
        "S3ReplicateObject"
    } else if operation.s3_compute_object_checksum().is_some() {
        "S3ComputeObjectChecksum"
    } else if operation.s3_update_object_encryption().is_some() {
        "S3UpdateObjectEncryption"
    } else {
        return None;
    };
    Some(name.to_owned())
}

/// Manifest, report, role and suspension date of a DescribeJob answer.
fn details(descriptor: &aws_sdk_s3control::types::JobDescriptor) -> JobDetails {
    let location = descriptor.manifest().and_then(|m| m.location());
    let report = descriptor.report().filter(|r| r.enabled());
    JobDetails {
        role_arn: descriptor.role_arn().map(str::to_owned),
        manifest: location.map(|l| match l.object_version_id() {
            Some(version) => format!("{}#{version}", l.object_arn()),
            None => l.object_arn().to_owned(),
        }),
        manifest_etag: location.map(|l| l.e_tag().to_owned()),
        manifest_generated: descriptor.manifest_generator().is_some(),
        report: report.map(|r| {
            let bucket = r.bucket().unwrap_or_default();
            let bucket = bucket.strip_prefix("arn:aws:s3:::").unwrap_or(bucket);
            match r.prefix() {
                Some(prefix) => format!("s3://{bucket}/{prefix}"),
                None => format!("s3://{bucket}"),
            }
        }),
        report_scope: report
            .and_then(|r| r.report_scope())
            .map(|s| s.as_str().to_owned()),
        suspended_date: timestamp(descriptor.suspended_date()),
    }
}

impl JobControl for AwsJobControl {
    async fn describe_job(&self, job: &JobId) -> Result<Answer<JobDescription>, ApiError> {
        let call = ApiCall::DescribeJob;
        let output = self
            .client
            .describe_job()
            .account_id(self.account.as_str())
            .job_id(job.as_str())
            .send()
            .await
            .inspect(|_| self.health.answered())
            .map_err(|e| self.health.failed(classify(call, e)))?;
        let request_id = output.request_id();
        let descriptor = output
            .job()
            .ok_or_else(|| malformed(call, request_id, "the answer has no job".to_owned()))?;
        let summary = JobSummary {
            id: job_id(call, request_id, descriptor.job_id())?,
            description: descriptor.description().map(str::to_owned),
            operation: descriptor.operation().and_then(operation_name),
            priority: descriptor.priority(),
            status: status(call, request_id, descriptor.status())?,
            creation_time: timestamp(descriptor.creation_time()),
            termination_date: timestamp(descriptor.termination_date()),
            progress: progress(descriptor.progress_summary()),
        };
        Ok(Answer {
            value: JobDescription {
                summary,
                status_update_reason: descriptor.status_update_reason().map(str::to_owned),
                suspended_cause: descriptor.suspended_cause().map(str::to_owned),
                failure_reasons: descriptor
                    .failure_reasons()
                    .iter()
                    .map(|f| {
                        format!(
                            "{}: {}",
                            f.failure_code().unwrap_or("unknown"),
                            f.failure_reason().unwrap_or("")
                        )
                    })
                    .collect(),
                confirmation_required: descriptor.confirmation_required(),
                details: details(descriptor),
            },
            request_id: request_id.map(str::to_owned),
        })
    }

    async fn list_jobs(
        &self,
        statuses: &[JobStatus],
        next_token: Option<&str>,
        max_results: i32,
    ) -> Result<Answer<JobPage>, ApiError> {
        let call = ApiCall::ListJobs;
        let mut request = self
            .client
            .list_jobs()
            .account_id(self.account.as_str())
            .max_results(max_results)
            .set_next_token(next_token.map(str::to_owned));
        for status in statuses {
            request = request.job_statuses(SdkJobStatus::from(status.as_str()));
        }
        let output = request
            .send()
            .await
            .inspect(|_| self.health.answered())
            .map_err(|e| self.health.failed(classify(call, e)))?;
        let request_id = output.request_id();
        let jobs = output
            .jobs()
            .iter()
            .map(|job| list_entry(request_id, job))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Answer {
            value: JobPage {
                jobs,
                next_token: output
                    .next_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            },
            request_id: request_id.map(str::to_owned),
        })
    }

    async fn update_job_status(
        &self,
        job: &JobId,
        target: TargetStatus,
        reason: Option<&str>,
    ) -> Result<Answer<JobStatus>, ApiError> {
        let call = ApiCall::UpdateJobStatus;
        let requested = match target {
            TargetStatus::Ready => RequestedJobStatus::Ready,
            TargetStatus::Cancelled => RequestedJobStatus::Cancelled,
        };
        let output = self
            .client
            .update_job_status()
            .account_id(self.account.as_str())
            .job_id(job.as_str())
            .requested_job_status(requested)
            .set_status_update_reason(reason.map(str::to_owned))
            .send()
            .await
            .inspect(|_| self.health.answered())
            .map_err(|e| self.health.failed(classify(call, e)))?;
        let request_id = output.request_id();
        Ok(Answer {
            value: status(call, request_id, output.status())?,
            request_id: request_id.map(str::to_owned),
        })
    }

    async fn update_job_priority(
        &self,
        job: &JobId,
        priority: i32,
    ) -> Result<Answer<i32>, ApiError> {
        let call = ApiCall::UpdateJobPriority;
        let output = self
            .client
            .update_job_priority()
            .account_id(self.account.as_str())
            .job_id(job.as_str())
            .priority(priority)
            .send()
            .await
            .inspect(|_| self.health.answered())
            .map_err(|e| self.health.failed(classify(call, e)))?;
        Ok(Answer {
            value: output.priority(),
            request_id: output.request_id().map(str::to_owned),
        })
    }

    async fn get_job_tagging(&self, job: &JobId) -> Result<Answer<Vec<Tag>>, ApiError> {
        let call = ApiCall::GetJobTagging;
        let output = self
            .client
            .get_job_tagging()
            .account_id(self.account.as_str())
            .job_id(job.as_str())
            .send()
            .await
            .inspect(|_| self.health.answered())
            .map_err(|e| self.health.failed(classify(call, e)))?;
        Ok(Answer {
            value: output
                .tags()
                .iter()
                .map(|t| Tag {
                    key: t.key().to_owned(),
                    value: t.value().to_owned(),
                })
                .collect(),
            request_id: output.request_id().map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_chains_name_each_cause_once_without_debug_dumps() {
        #[derive(Debug, thiserror::Error)]
        #[error("dispatch failure")]
        struct Outer(#[source] std::io::Error);
        let error = Outer(std::io::Error::other(
            "tcp connect error: Connection refused",
        ));
        assert_eq!(
            error_chain(&error),
            "dispatch failure: tcp connect error: Connection refused"
        );
    }

    use super::*;

    #[test]
    fn codes_win_and_statuses_fill_in() {
        for (code, status, kind) in [
            (
                Some("TooManyRequestsException"),
                Some(400),
                ApiErrorKind::Throttled,
            ),
            (Some("SlowDown"), Some(503), ApiErrorKind::Throttled),
            (
                Some("JobStatusException"),
                Some(400),
                ApiErrorKind::JobStatusConflict,
            ),
            (Some("NotFoundException"), Some(404), ApiErrorKind::NotFound),
            (
                Some("InternalServiceException"),
                Some(400),
                ApiErrorKind::ServerError,
            ),
            (Some("AccessDenied"), Some(403), ApiErrorKind::AccessDenied),
            (
                Some("SignatureDoesNotMatch"),
                Some(403),
                ApiErrorKind::InvalidCredentials,
            ),
            (
                Some("BadRequestException"),
                Some(400),
                ApiErrorKind::BadRequest,
            ),
            (None, Some(429), ApiErrorKind::Throttled),
            (None, Some(503), ApiErrorKind::ServerError),
            (None, Some(403), ApiErrorKind::AccessDenied),
            (None, Some(404), ApiErrorKind::MalformedResponse),
            (None, Some(405), ApiErrorKind::MalformedResponse),
            (Some("SomethingNew"), Some(404), ApiErrorKind::NotFound),
            (None, Some(400), ApiErrorKind::BadRequest),
            (None, Some(200), ApiErrorKind::MalformedResponse),
            (Some("SomethingNew"), Some(502), ApiErrorKind::ServerError),
            (None, None, ApiErrorKind::Other),
        ] {
            assert_eq!(classify_code(code, status), kind, "{code:?} {status:?}");
        }
    }
}

/// The SDK wiring end to end against a loopback HTTP server speaking S3 Control's restXml wire format (paths,
/// headers, XML bodies and error envelopes as the service sends them).
#[cfg(test)]
mod wire_tests {
    use axum::Router;
    use axum::extract::Path;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};

    use super::*;
    use crate::api::client::{AwsClients, Timeouts};

    const NS: &str = "http://awss3control.amazonaws.com/doc/2018-08-20/";

    fn xml(status: StatusCode, request_id: &str, body: String) -> Response {
        (
            status,
            [
                ("content-type", "application/xml"),
                ("x-amz-request-id", request_id),
            ],
            body,
        )
            .into_response()
    }

    fn error(status: StatusCode, code: &str) -> Response {
        let body = format!(
            "<ErrorResponse xmlns=\"{NS}\"><Error><Code>{code}</Code><Message>scripted</Message></Error><RequestId>BODY-ID</RequestId></ErrorResponse>"
        );
        xml(status, "ERR-ID", body)
    }

    async fn describe(Path(id): Path<String>, headers: HeaderMap) -> Response {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if headers.get("x-amz-account-id").is_none() || !host.starts_with("127.0.0.1") {
            return error(StatusCode::BAD_REQUEST, "BadRequestException");
        }
        let status = match id.as_str() {
            "job-throttled" => {
                return error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException");
            }
            "job-missing" => return error(StatusCode::NOT_FOUND, "NotFoundException"),
            "job-bare-503" => return (StatusCode::SERVICE_UNAVAILABLE, "").into_response(),
            "job-weird" => "Exploded",
            _ => "Suspended",
        };
        let body = format!(
            "<DescribeJobResult xmlns=\"{NS}\"><Job><JobId>{id}</JobId><Description>demo</Description><Status>{status}</Status><Priority>10</Priority><CreationTime>2024-05-01T12:00:00.123Z</CreationTime><ProgressSummary><TotalNumberOfTasks>8</TotalNumberOfTasks><NumberOfTasksSucceeded>3</NumberOfTasksSucceeded><NumberOfTasksFailed>0</NumberOfTasksFailed></ProgressSummary></Job></DescribeJobResult>"
        );
        xml(StatusCode::OK, "DESCRIBE-ID", body)
    }

    async fn update(Path(id): Path<String>) -> Response {
        if id == "job-conflict" {
            return error(StatusCode::BAD_REQUEST, "JobStatusException");
        }
        let body = format!(
            "<UpdateJobStatusResult xmlns=\"{NS}\"><JobId>{id}</JobId><Status>Cancelling</Status></UpdateJobStatusResult>"
        );
        xml(StatusCode::OK, "UPDATE-ID", body)
    }

    async fn list() -> Response {
        let body = format!(
            "<ListJobsResult xmlns=\"{NS}\"><NextToken>b2Zmc2V0PTE</NextToken><Jobs><member><JobId>job-listed</JobId><Operation>S3PutObjectTagging</Operation><Priority>42</Priority><Status>Active</Status></member></Jobs></ListJobsResult>"
        );
        xml(StatusCode::OK, "LIST-ID", body)
    }

    async fn control() -> AwsJobControl {
        let app = Router::new()
            .route("/v20180820/jobs", get(list))
            .route("/v20180820/jobs/{id}", get(describe))
            .route("/v20180820/jobs/{id}/status", post(update));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let clients = AwsClients::sandbox(
            &format!("http://{address}"),
            "us-east-1",
            Timeouts::default(),
        );
        clients.job_control(AccountId::parse("111122223333").unwrap())
    }

    fn id(text: &str) -> JobId {
        JobId::parse(text).unwrap()
    }

    #[tokio::test]
    async fn answers_and_request_ids_come_through() {
        let control = control().await;
        let described = control.describe_job(&id("job-ok-1")).await.unwrap();
        assert_eq!(described.value.summary.status, JobStatus::Suspended);
        assert_eq!(described.value.summary.progress.succeeded_tasks, 3);
        assert_eq!(described.request_id.as_deref(), Some("DESCRIBE-ID"));

        let updated = control
            .update_job_status(
                &id("job-ok-1"),
                TargetStatus::Cancelled,
                Some("go now & then"),
            )
            .await
            .unwrap();
        assert_eq!(updated.value, JobStatus::Cancelling);
        assert_eq!(updated.request_id.as_deref(), Some("UPDATE-ID"));

        let page = control
            .list_jobs(&[JobStatus::Active], None, 1000)
            .await
            .unwrap();
        assert_eq!(
            page.value.jobs[0].operation.as_deref(),
            Some("S3PutObjectTagging")
        );
        assert_eq!(page.value.next_token.as_deref(), Some("b2Zmc2V0PTE"));
    }

    #[tokio::test]
    async fn failures_are_classified_once_with_their_request_id() {
        let control = control().await;
        for (job, kind, code, status) in [
            (
                "job-throttled",
                ApiErrorKind::Throttled,
                Some("TooManyRequestsException"),
                Some(429),
            ),
            (
                "job-missing",
                ApiErrorKind::NotFound,
                Some("NotFoundException"),
                Some(404),
            ),
            ("job-bare-503", ApiErrorKind::ServerError, None, Some(503)),
            (
                "job-weird",
                ApiErrorKind::MalformedResponse,
                None,
                Some(200),
            ),
        ] {
            let error = control.describe_job(&id(job)).await.unwrap_err();
            assert_eq!(error.kind, kind, "{job}: {error}");
            assert_eq!(error.code.as_deref(), code, "{job}");
            assert_eq!(error.http_status, status, "{job}");
            assert_eq!(error.call, ApiCall::DescribeJob);
        }
        let throttled = control
            .describe_job(&id("job-throttled"))
            .await
            .unwrap_err();
        assert_eq!(throttled.request_id.as_deref(), Some("ERR-ID"));
        let conflict = control
            .update_job_status(&id("job-conflict"), TargetStatus::Ready, None)
            .await
            .unwrap_err();
        assert_eq!(conflict.kind, ApiErrorKind::JobStatusConflict);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connection_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let clients = AwsClients::sandbox(
            &format!("http://{address}"),
            "us-east-1",
            Timeouts::default(),
        );
        let control = clients.job_control(AccountId::parse("111122223333").unwrap());
        let error = control.describe_job(&id("job-ok-1")).await.unwrap_err();
        assert_eq!(error.kind, ApiErrorKind::Connection, "{error}");
        assert!(error.kind.is_retryable());
    }

    /// Regression: a connection the server closed without answering was `Other` and not retried.
    #[tokio::test]
    async fn regression_a_dropped_connection_is_a_connection_error() {
        use tokio::io::AsyncReadExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                drop(stream);
            }
        });
        let clients = AwsClients::sandbox(
            &format!("http://{address}"),
            "us-east-1",
            Timeouts::default(),
        );
        let control = clients.job_control(AccountId::parse("111122223333").unwrap());
        let error = control
            .update_job_status(&id("job-ok-1"), TargetStatus::Ready, None)
            .await
            .unwrap_err();
        assert_eq!(error.kind, ApiErrorKind::Connection, "{error}");
        assert!(error.kind.is_retryable());
    }
}
