//! `JobControl` over aws-sdk-s3control, and the one classification of SDK errors into `ApiError`.
//!
//! Owns the mapping between SDK types and ours: statuses (an unknown value is a malformed answer, not a
//! panic), timestamps, request ids (read from `x-amzn-requestid`/`x-amz-request-id` on every answer, success
//! or failure), and error kinds (reference §3: the AWS code first, the HTTP status when the body had none,
//! transport failures as `Connection`/`Timeout`). Makes exactly one attempt per call: the client is built
//! with SDK retries off (`client.rs`). Does not build clients or decide about retries.

use aws_sdk_s3control::Client;
use aws_sdk_s3control::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3control::operation::RequestId;
use aws_sdk_s3control::types::{
    JobListDescriptor, JobProgressSummary, JobStatus as SdkJobStatus, RequestedJobStatus,
};
use aws_smithy_types::DateTime;

use crate::api::{
    AccountId, Answer, ApiCall, ApiError, ApiErrorKind, JobControl, JobDescription, JobId, JobPage,
    JobStatus, JobSummary, Progress, Tag, TargetStatus,
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
}

impl AwsJobControl {
    /// Calls go to `account` through `client` (built by `client.rs`).
    pub fn new(client: Client, account: AccountId) -> Self {
        Self { client, account }
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
    let code = error.code().map(str::to_owned);
    let message = error
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| aws_sdk_s3control::error::DisplayErrorContext(&error).to_string());
    let kind = match &error {
        SdkError::ConstructionFailure(_) => ApiErrorKind::Other,
        SdkError::TimeoutError(_) => ApiErrorKind::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => ApiErrorKind::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_user() || failure.is_other() => {
            ApiErrorKind::Other
        }
        SdkError::DispatchFailure(_) => ApiErrorKind::Connection,
        SdkError::ResponseError(_) => match http_status {
            Some(200..=299) => ApiErrorKind::MalformedResponse,
            Some(status) if status >= 500 => ApiErrorKind::ServerError,
            _ => ApiErrorKind::Connection,
        },
        SdkError::ServiceError(_) => classify_code(code.as_deref(), http_status),
        _ => ApiErrorKind::Other,
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

/// A one-line description of an STS failure (used when the account id cannot be found).
pub fn describe_sts_error<E>(error: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("GetCallerIdentity failed: {code}: {message}"),
        _ => format!(
            "GetCallerIdentity failed: {}",
            aws_sdk_s3control::error::DisplayErrorContext(error)
        ),
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
            .map_err(|e| classify(call, e))?;
        let request_id = output.request_id();
        let descriptor = output
            .job()
            .ok_or_else(|| malformed(call, request_id, "the answer has no job".to_owned()))?;
        let summary = JobSummary {
            id: job_id(call, request_id, descriptor.job_id())?,
            description: descriptor.description().map(str::to_owned),
            operation: None,
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
        let output = request.send().await.map_err(|e| classify(call, e))?;
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
            .map_err(|e| classify(call, e))?;
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
            .map_err(|e| classify(call, e))?;
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
            .map_err(|e| classify(call, e))?;
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
            (None, Some(404), ApiErrorKind::NotFound),
            (None, Some(400), ApiErrorKind::BadRequest),
            (None, Some(200), ApiErrorKind::MalformedResponse),
            (Some("SomethingNew"), Some(502), ApiErrorKind::ServerError),
            (None, None, ApiErrorKind::Other),
        ] {
            assert_eq!(classify_code(code, status), kind, "{code:?} {status:?}");
        }
    }
}
