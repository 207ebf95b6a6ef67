//! The operations the sandbox serves (the eight job operations and the two STS calls s3plan makes), as one
//! enum shared by the router, knobs and audit log.

use serde::{Deserialize, Serialize};

/// An S3 Control job operation.
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
pub enum Operation {
    /// `POST /v20180820/jobs`.
    CreateJob,
    /// `GET /v20180820/jobs/{id}`.
    DescribeJob,
    /// `GET /v20180820/jobs`.
    ListJobs,
    /// `POST /v20180820/jobs/{id}/status`.
    UpdateJobStatus,
    /// `POST /v20180820/jobs/{id}/priority`.
    UpdateJobPriority,
    /// `GET /v20180820/jobs/{id}/tagging`.
    GetJobTagging,
    /// `PUT /v20180820/jobs/{id}/tagging`.
    PutJobTagging,
    /// `DELETE /v20180820/jobs/{id}/tagging`.
    DeleteJobTagging,
    /// STS `POST /` with `Action=GetCallerIdentity`.
    GetCallerIdentity,
    /// STS `POST /` with `Action=AssumeRole`.
    AssumeRole,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 10] = [
        Operation::CreateJob,
        Operation::DescribeJob,
        Operation::ListJobs,
        Operation::UpdateJobStatus,
        Operation::UpdateJobPriority,
        Operation::GetJobTagging,
        Operation::PutJobTagging,
        Operation::DeleteJobTagging,
        Operation::GetCallerIdentity,
        Operation::AssumeRole,
    ];

    /// The operation name as AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::CreateJob => "CreateJob",
            Operation::DescribeJob => "DescribeJob",
            Operation::ListJobs => "ListJobs",
            Operation::UpdateJobStatus => "UpdateJobStatus",
            Operation::UpdateJobPriority => "UpdateJobPriority",
            Operation::GetJobTagging => "GetJobTagging",
            Operation::PutJobTagging => "PutJobTagging",
            Operation::DeleteJobTagging => "DeleteJobTagging",
            Operation::GetCallerIdentity => "GetCallerIdentity",
            Operation::AssumeRole => "AssumeRole",
        }
    }

    /// Parses the AWS spelling.
    pub fn parse(text: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.as_str() == text)
    }

    /// Whether the operation changes state (and is therefore written to the audit log).
    pub(crate) fn is_mutating(self) -> bool {
        !matches!(
            self,
            Operation::DescribeJob
                | Operation::ListJobs
                | Operation::GetJobTagging
                | Operation::GetCallerIdentity
                | Operation::AssumeRole
        )
    }

    /// Position in [`Operation::ALL`], for per-operation arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
