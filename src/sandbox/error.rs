//! Errors: the AWS error codes the sandbox answers with ([`ErrorCode`], [`WireError`]) and the typed error
//! for starting a sandbox ([`SandboxError`]).
//!
//! Owns the code → HTTP status mapping (where AWS does not document a status, one chosen so both SDKs retry the right
//! things). Does not own the XML envelope (see `wire.rs`).

use std::path::PathBuf;

/// An AWS error code the sandbox can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ErrorCode {
    /// 400, invalid parameter (job id, reason, priority, body, account header).
    BadRequest,
    /// 429, throttled; both SDKs retry it.
    TooManyRequests,
    /// 404, no such job (or expired).
    NotFound,
    /// 400, the job's status does not allow the requested change.
    JobStatus,
    /// 500, server fault; both SDKs retry it.
    InternalService,
    /// 400, CreateJob reused a client request token with a different request.
    Idempotency,
    /// 400, invalid ListJobs parameter.
    InvalidRequest,
    /// 400, unknown or forged ListJobs `nextToken`.
    InvalidNextToken,
    /// 400, more than 50 tags.
    TooManyTags,
    /// 400, a tag key or value outside the model's pattern, or a key with the reserved `aws:` prefix.
    InvalidTag,
    /// 403, missing credentials or an account the caller may not use.
    AccessDenied,
    /// 403, the access key is not known.
    InvalidAccessKeyId,
    /// 403, the signature does not match.
    SignatureDoesNotMatch,
    /// 400, the `Authorization` header cannot be parsed.
    AuthorizationHeaderMalformed,
    /// 400, an authorization scheme other than `AWS4-HMAC-SHA256`.
    UnsupportedAuthorization,
    /// 400, the body does not match `x-amz-content-sha256`.
    ContentSha256Mismatch,
    /// 400, an STS parameter is invalid.
    ValidationError,
    /// 404, no operation at this path.
    UnknownOperation,
    /// 405, known path, wrong method.
    MethodNotAllowed,
}

impl ErrorCode {
    /// The `<Code>` text.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BadRequestException",
            ErrorCode::TooManyRequests => "TooManyRequestsException",
            ErrorCode::NotFound => "NotFoundException",
            ErrorCode::JobStatus => "JobStatusException",
            ErrorCode::InternalService => "InternalServiceException",
            ErrorCode::Idempotency => "IdempotencyException",
            ErrorCode::InvalidRequest => "InvalidRequestException",
            ErrorCode::InvalidNextToken => "InvalidNextTokenException",
            ErrorCode::TooManyTags => "TooManyTagsException",
            ErrorCode::InvalidTag => "InvalidTag",
            ErrorCode::AccessDenied => "AccessDenied",
            ErrorCode::InvalidAccessKeyId => "InvalidAccessKeyId",
            ErrorCode::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            ErrorCode::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            ErrorCode::UnsupportedAuthorization => "InvalidRequest",
            ErrorCode::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            ErrorCode::UnknownOperation => "UnknownOperationException",
            ErrorCode::ValidationError => "ValidationError",
            ErrorCode::MethodNotAllowed => "MethodNotAllowed",
        }
    }

    /// The HTTP status sent with the code.
    pub(crate) fn http_status(self) -> u16 {
        match self {
            ErrorCode::TooManyRequests => 429,
            ErrorCode::InternalService => 500,
            ErrorCode::NotFound | ErrorCode::UnknownOperation => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::AccessDenied
            | ErrorCode::InvalidAccessKeyId
            | ErrorCode::SignatureDoesNotMatch => 403,
            ErrorCode::BadRequest
            | ErrorCode::JobStatus
            | ErrorCode::Idempotency
            | ErrorCode::InvalidRequest
            | ErrorCode::InvalidNextToken
            | ErrorCode::TooManyTags
            | ErrorCode::InvalidTag
            | ErrorCode::ValidationError
            | ErrorCode::AuthorizationHeaderMalformed
            | ErrorCode::UnsupportedAuthorization
            | ErrorCode::ContentSha256Mismatch => 400,
        }
    }
}

/// An error answer: code plus message (1–1024 chars, as the model allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError {
    /// The code.
    pub(crate) code: ErrorCode,
    /// The `<Message>` text.
    pub(crate) message: String,
}

impl WireError {
    /// A new error answer.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
        }
    }
}

/// Why a sandbox could not start or load its configuration.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The listen address is unusable.
    #[error("failed to bind {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A seed file could not be read.
    #[error("failed to read seed file {path}")]
    ReadSeed {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A seed document is not valid YAML for the seed schema.
    #[error("invalid seed{}: {message}", path.as_ref().map(|p| format!(" file {}", p.display())).unwrap_or_default())]
    ParseSeed {
        /// The file, when the seed came from one.
        path: Option<PathBuf>,
        /// What is wrong (from the YAML parser, with line and column).
        message: String,
    },
    /// A seed is well-formed but describes something impossible.
    #[error("invalid seed: {0}")]
    InvalidSeed(String),
    /// The audit log file could not be opened.
    #[error("failed to open audit log {path}")]
    AuditLog {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A knob value (flag or admin request) is invalid.
    #[error("invalid knob: {0}")]
    InvalidKnob(String),
}
