//! The plan model: the YAML file's shape as Rust types, with the source span of every value that can be
//! wrong, plus the defaults and ranges the format documents.
//!
//! Owns the types serde reads and schemars turns into `schemas/plan.schema.json`, and small accessors that
//! apply defaults. Does not own reading files (`parse.rs`), checks (`structure.rs`, `validate.rs`) or the
//! resolution of selectors into jobs (`resolve.rs`). Values are only guaranteed to be in range once a plan
//! came out of [`crate::plan::load()`] (the accessors rely on that and say so).
//!
//! Rules of the schema (see `docs/plan.md`): plain structs with `deny_unknown_fields`, externally tagged
//! enums only, no `untagged`/`flatten` (they lose spans). The one value with several shapes, `wait_for`,
//! has a hand-written `Deserialize` (see [`WaitFor`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use jiff::Timestamp;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use super::targets::TargetSpec;
use crate::api::{AccountId, JobId, JobStatus, TargetStatus};
use crate::resolved::TaskLimit;

/// The only plan format version this build reads.
pub const PLAN_VERSION: u64 = 1;
/// How often a waiting entry polls when the plan sets no `poll_interval`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);
/// Gate timeout when neither the gate nor the plan sets `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// UpdateJobStatus/UpdateJobPriority calls in flight at once when `limits.concurrency` is unset.
pub const DEFAULT_CONCURRENCY: u32 = 8;
/// Mutating calls per second in each target, when `limits.rate_limit` is unset.
pub const DEFAULT_RATE_LIMIT: f64 = 5.0;
/// Read calls (DescribeJob, ListJobs, GetJobTagging) per second when `limits.poll_rate_limit` is unset.
pub const DEFAULT_POLL_RATE_LIMIT: f64 = 10.0;
/// Most jobs a selector may match before the whole run is refused, when `max_jobs` is unset.
pub const DEFAULT_MAX_JOBS: u32 = 100;

/// Accepted `poll_interval` values.
pub const POLL_INTERVAL_RANGE: RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(60 * 60);
/// Accepted `timeout` values (plan default and per gate).
pub const TIMEOUT_RANGE: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(7 * 24 * 60 * 60);
/// Accepted `limits.concurrency` values.
pub const CONCURRENCY_RANGE: RangeInclusive<i64> = 1..=1024;
/// Largest accepted `limits.rate_limit` and `limits.poll_rate_limit` (calls per second; must be > 0).
pub const MAX_RATE_LIMIT: f64 = 10_000.0;
/// Accepted job priorities (the API's range).
pub const PRIORITY_RANGE: RangeInclusive<i64> = 0..=2_147_483_647;
/// Accepted `max_jobs` values.
pub const MAX_JOBS_RANGE: RangeInclusive<i64> = 1..=1_000_000;
/// Longest `StatusUpdateReason` the API takes, in characters.
pub const MAX_REASON_CHARS: usize = 256;
/// Longest tag key the API takes, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value the API takes, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// Most tags a job can have, and so the most a selector may ask for.
pub const MAX_TAGS: usize = 50;

/// A whole plan file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "s3plan plan",
    description = "A reviewed plan of S3 Batch Operations job changes"
)]
pub struct Plan {
    /// Format version; only `1` is accepted.
    #[schemars(with = "u64")]
    pub version: Spanned<u64>,
    /// The account every call names; else `--account-id`, `AWS_ACCOUNT_ID` or STS GetCallerIdentity.
    /// Not allowed beside `targets` (each target names its own).
    #[serde(default)]
    #[schemars(schema_with = "account_id_schema")]
    pub account_id: Option<Spanned<AccountId>>,
    /// The region; else `--region` or the standard AWS chain. Not allowed beside `targets`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    /// The accounts and regions the plan acts in; without it, one account and region as above.
    #[serde(default)]
    #[schemars(schema_with = "targets_schema")]
    pub targets: Option<Spanned<Vec<Spanned<TargetSpec>>>>,
    /// Default `StatusUpdateReason` of every entry, 1 to 256 characters.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub reason: Option<Spanned<String>>,
    /// How often a waiting entry polls, 100ms to 1h (default 10s).
    #[serde(default)]
    #[schemars(with = "Option<HumanDuration>")]
    pub poll_interval: Option<Spanned<HumanDuration>>,
    /// Default gate timeout, 1s to 7d (default 30m).
    #[serde(default)]
    #[schemars(with = "Option<HumanDuration>")]
    pub timeout: Option<Spanned<HumanDuration>>,
    /// Concurrency and rate limits.
    #[serde(default)]
    #[schemars(with = "Option<Limits>")]
    pub limits: Option<Spanned<Limits>>,
    /// The entries, in order.
    #[schemars(with = "Vec<Entry>")]
    pub jobs: Spanned<Vec<Spanned<Entry>>>,
}

impl Plan {
    /// `poll_interval`, or [`DEFAULT_POLL_INTERVAL`].
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval
            .as_ref()
            .map_or(DEFAULT_POLL_INTERVAL, |d| d.value.0)
    }

    /// The plan-wide gate `timeout`, or [`DEFAULT_TIMEOUT`].
    pub fn timeout(&self) -> Duration {
        self.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |d| d.value.0)
    }

    /// `limits.concurrency`, or [`DEFAULT_CONCURRENCY`].
    pub fn concurrency(&self) -> u32 {
        self.limits
            .as_ref()
            .and_then(|l| l.value.concurrency.as_ref())
            .and_then(|c| u32::try_from(c.value).ok())
            .unwrap_or(DEFAULT_CONCURRENCY)
    }

    /// `limits.rate_limit`, or [`DEFAULT_RATE_LIMIT`].
    pub fn rate_limit(&self) -> f64 {
        self.limits
            .as_ref()
            .and_then(|l| l.value.rate_limit.as_ref())
            .map_or(DEFAULT_RATE_LIMIT, |r| r.value)
    }

    /// `limits.poll_rate_limit`, or [`DEFAULT_POLL_RATE_LIMIT`].
    pub fn poll_rate_limit(&self) -> f64 {
        self.limits
            .as_ref()
            .and_then(|l| l.value.poll_rate_limit.as_ref())
            .map_or(DEFAULT_POLL_RATE_LIMIT, |r| r.value)
    }

    /// The account id from the file, if any.
    pub fn account_id(&self) -> Option<&AccountId> {
        self.account_id.as_ref().map(|a| &a.value)
    }

    /// The region from the file, if any.
    pub fn region(&self) -> Option<&str> {
        self.region.as_ref().map(|r| r.value.as_str())
    }

    /// The plan-wide reason, if any.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_ref().map(|r| r.value.as_str())
    }

    /// The entries, in file order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.jobs.value.iter().map(|e| &e.value)
    }
}

/// Concurrency and rate limits of the whole plan.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Mutating calls in flight at once, 1 to 1024 (default 8).
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub concurrency: Option<Spanned<i64>>,
    /// Mutating calls per second in each target (an account in a region); above 0, at most 10000 (default 5).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub rate_limit: Option<Spanned<f64>>,
    /// DescribeJob/ListJobs/GetJobTagging calls per second; above 0, at most 10000 (default 10).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub poll_rate_limit: Option<Spanned<f64>>,
}

/// One entry of `jobs`: which jobs, what to wait for, what to change.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Unique name, `[a-z0-9_-]+`; `after` refers to it.
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9_-]+$"))]
    pub name: Spanned<String>,
    /// One job (exactly one of `job_id`, `job_ids`, `select`).
    #[serde(default)]
    #[schemars(schema_with = "job_id_schema")]
    pub job_id: Option<Spanned<JobId>>,
    /// Several jobs (exactly one of `job_id`, `job_ids`, `select`).
    #[serde(default)]
    #[schemars(schema_with = "job_ids_schema")]
    pub job_ids: Option<Spanned<Vec<Spanned<JobId>>>>,
    /// Jobs found by ListJobs (exactly one of `job_id`, `job_ids`, `select`).
    #[serde(default)]
    #[schemars(with = "Option<Selector>")]
    pub select: Option<Spanned<Selector>>,
    /// Refuse the whole run if `select` matches more jobs (default 100).
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub max_jobs: Option<Spanned<i64>>,
    /// The targets (or target groups) the entry runs in; default every target of the plan.
    #[serde(default)]
    #[schemars(schema_with = "name_list_schema")]
    pub targets: Option<Spanned<Vec<Spanned<String>>>>,
    /// Entries that must finish successfully first.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub after: Option<Spanned<Vec<Spanned<String>>>>,
    /// The gate: a status, a list of statuses, or the long form `{job, status, timeout}`.
    #[serde(default)]
    #[schemars(with = "Option<WaitFor>")]
    pub wait_for: Option<Spanned<WaitFor>>,
    /// The status to request: `Ready` (confirm) or `Cancelled`.
    #[serde(default)]
    #[schemars(with = "Option<TargetStatus>")]
    pub set: Option<Spanned<TargetStatus>>,
    /// The priority to set (UpdateJobPriority), 0 to 2147483647.
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub priority: Option<Spanned<i64>>,
    /// `StatusUpdateReason` for this entry, 1 to 256 characters (default: the plan's `reason`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub reason: Option<Spanned<String>>,
}

impl Entry {
    /// The entry's name.
    pub fn name(&self) -> &str {
        &self.name.value
    }

    /// Which jobs the entry means, before resolution.
    pub fn job_set(&self) -> Option<JobSet<'_>> {
        if let Some(id) = &self.job_id {
            Some(JobSet::Ids(vec![&id.value]))
        } else if let Some(ids) = &self.job_ids {
            Some(JobSet::Ids(ids.value.iter().map(|id| &id.value).collect()))
        } else {
            self.select.as_ref().map(|s| JobSet::Select(&s.value))
        }
    }

    /// `max_jobs`, or [`DEFAULT_MAX_JOBS`].
    pub fn max_jobs(&self) -> u32 {
        self.max_jobs
            .as_ref()
            .and_then(|m| u32::try_from(m.value).ok())
            .unwrap_or(DEFAULT_MAX_JOBS)
    }

    /// Names of the entries that must succeed first.
    pub fn after(&self) -> impl Iterator<Item = &str> {
        self.after
            .iter()
            .flat_map(|a| a.value.iter().map(|n| n.value.as_str()))
    }

    /// The requested status, if any.
    pub fn target(&self) -> Option<TargetStatus> {
        self.set.as_ref().map(|s| s.value)
    }

    /// The priority to set, if any (in range once validated).
    pub fn priority(&self) -> Option<i32> {
        self.priority
            .as_ref()
            .and_then(|p| i32::try_from(p.value).ok())
    }

    /// This entry's reason, falling back to the plan's.
    pub fn reason<'a>(&'a self, plan: &'a Plan) -> Option<&'a str> {
        self.reason
            .as_ref()
            .map(|r| r.value.as_str())
            .or_else(|| plan.reason())
    }

    /// The gate with defaults applied (`timeout` from the gate, else the plan, else [`DEFAULT_TIMEOUT`]).
    pub fn gate(&self, plan: &Plan) -> Option<GateSpec> {
        let wait_for = &self.wait_for.as_ref()?.value;
        let (job, statuses, timeout, tasks, target) = match wait_for {
            WaitFor::Own(list) => (None, list.statuses(), None, None, None),
            WaitFor::Long(long) => (
                long.job.as_ref().map(|j| j.value.clone()),
                long.status.value.statuses(),
                long.timeout.as_ref().map(|t| t.value.0),
                long.tasks(),
                long.job.as_ref().and_then(|_| plan.gate_target(long)),
            ),
        };
        Some(GateSpec {
            job,
            target,
            statuses,
            timeout: timeout.unwrap_or_else(|| plan.timeout()),
            tasks,
        })
    }
}

/// Which jobs an entry means, borrowed from the entry.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSet<'a> {
    /// `job_id` or `job_ids`.
    Ids(Vec<&'a JobId>),
    /// `select`.
    Select(&'a Selector),
}

/// A gate with defaults applied: what the resolver turns into `resolved::Gate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSpec {
    /// The watched job; `None` means each of the entry's own jobs.
    pub job: Option<JobId>,
    /// Index into [`Plan::targets`] of the watched job's target (the gate's `target:`, or the plan's
    /// only target); `None` when the plan has no targets or the gate watches the entry's own jobs.
    pub target: Option<usize>,
    /// The gate holds when the watched status is any of these.
    pub statuses: Vec<JobStatus>,
    /// How long to wait.
    pub timeout: Duration,
    /// The task condition that must hold as well, if any.
    pub tasks: Option<TaskLimit>,
}

/// A ListJobs-based selector. Every filter given must match; `all: true` stands for "no filter".
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// Explicitly select every job (only allowed without other filters).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub all: Option<Spanned<bool>>,
    /// Server-side status filter (ListJobs `jobStatuses`): one status or a list, like `wait_for`.
    #[serde(default)]
    #[schemars(with = "Option<StatusList>")]
    pub status: Option<Spanned<StatusList>>,
    /// Glob on the job's Description (`reindex-*`), or a regex written `regex:^reindex-\d+$`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    /// Only jobs created at or after this RFC 3339 time.
    #[serde(default)]
    #[schemars(schema_with = "timestamp_schema")]
    pub created_after: Option<Spanned<Timestamp>>,
    /// Only jobs created before this RFC 3339 time.
    #[serde(default)]
    #[schemars(schema_with = "timestamp_schema")]
    pub created_before: Option<Spanned<Timestamp>>,
    /// Only jobs running one of these operations.
    #[serde(default)]
    #[schemars(with = "Option<Vec<OperationName>>")]
    pub operation: Option<Spanned<Vec<Spanned<OperationName>>>>,
    /// Only jobs whose priority is within `min..=max`.
    #[serde(default)]
    #[schemars(with = "Option<PriorityRange>")]
    pub priority: Option<Spanned<PriorityRange>>,
    /// Only jobs carrying every one of these tags (costs one GetJobTagging per candidate).
    #[serde(default)]
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub tags: Option<Spanned<HashMap<Spanned<String>, Spanned<String>>>>,
}

impl Selector {
    /// The server-side status filter (empty: all statuses).
    pub fn statuses(&self) -> Vec<JobStatus> {
        self.status
            .iter()
            .flat_map(|s| s.value.statuses())
            .collect()
    }

    /// The description matcher; `None` when absent (or, before validation, invalid).
    pub fn description(&self) -> Option<DescriptionPattern> {
        self.description
            .as_ref()
            .and_then(|d| DescriptionPattern::parse(&d.value).ok())
    }

    /// The operation filter (empty: any).
    pub fn operations(&self) -> Vec<OperationName> {
        self.operation
            .iter()
            .flat_map(|s| s.value.iter().map(|v| v.value))
            .collect()
    }

    /// The priority filter as inclusive bounds (missing bounds are the API's limits).
    pub fn priority_bounds(&self) -> Option<RangeInclusive<i32>> {
        let range = &self.priority.as_ref()?.value;
        let min = range.min.as_ref().map_or(0, |m| m.value);
        let max = range.max.as_ref().map_or(i64::from(i32::MAX), |m| m.value);
        Some(i32::try_from(min).unwrap_or(0)..=i32::try_from(max).unwrap_or(i32::MAX))
    }

    /// The tag filter, sorted by key.
    pub fn tags(&self) -> Vec<(&str, &str)> {
        let mut tags: Vec<(&str, &str)> = self
            .tags
            .iter()
            .flat_map(|t| t.value.iter())
            .map(|(k, v)| (k.value.as_str(), v.value.as_str()))
            .collect();
        tags.sort_unstable();
        tags
    }

    /// Whether any filter is given (`all` does not count).
    pub fn has_filter(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| !s.value.statuses().is_empty())
            || self.description.is_some()
            || self.created_after.is_some()
            || self.created_before.is_some()
            || self.operation.as_ref().is_some_and(|o| !o.value.is_empty())
            || self.priority.is_some()
            || self.tags.as_ref().is_some_and(|t| !t.value.is_empty())
    }
}

/// `priority: { min, max }` of a selector.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRange {
    /// Lowest priority matched (default 0).
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub min: Option<Spanned<i64>>,
    /// Highest priority matched (default 2147483647).
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub max: Option<Spanned<i64>>,
}

/// How a selector's `description` matches.
#[derive(Debug, Clone)]
pub enum DescriptionPattern {
    /// A glob (`*`, `?`, `[abc]`, `{a,b}`), matched against the whole description.
    Glob(globset::GlobMatcher),
    /// A regex (written `regex:<pattern>`), searched in the description (anchor it with `^...$`).
    Regex(regex::Regex),
}

/// The prefix that makes a `description` a regex instead of a glob.
pub const REGEX_PREFIX: &str = "regex:";

impl DescriptionPattern {
    /// Compiles `text`: `regex:<pattern>` is a regex, anything else a glob.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(pattern) = text.strip_prefix(REGEX_PREFIX) {
            regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build()
                .map(Self::Regex)
                .map_err(|e| {
                    // The regex crate's message spans lines (pattern, caret, reason); keep the reason.
                    let text = e.to_string();
                    let reason = text.lines().rev().find(|l| !l.trim().is_empty());
                    reason
                        .unwrap_or("invalid regex")
                        .trim()
                        .trim_start_matches("error: ")
                        .to_owned()
                })
        } else {
            globset::GlobBuilder::new(text)
                .literal_separator(false)
                .build()
                .map(|g| Self::Glob(g.compile_matcher()))
                .map_err(|e| e.kind().to_string())
        }
    }

    /// Checks `text` the way [`DescriptionPattern::parse`] reads it, without building a glob matcher
    /// (a glob's regex costs ~0.1 ms to build; a 10,000-entry plan must validate in well under 200 ms).
    pub fn check(text: &str) -> Result<(), String> {
        if text.starts_with(REGEX_PREFIX) {
            Self::parse(text).map(|_| ())
        } else {
            globset::GlobBuilder::new(text)
                .literal_separator(false)
                .build()
                .map(|_| ())
                .map_err(|e| e.kind().to_string())
        }
    }

    /// Whether `description` matches.
    pub fn is_match(&self, description: &str) -> bool {
        match self {
            Self::Glob(glob) => glob.is_match(description),
            Self::Regex(regex) => regex.is_match(description),
        }
    }
}

/// A job's operation, as the API's `OperationName` enum spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
pub enum OperationName {
    /// Invoke an AWS Lambda function.
    LambdaInvoke,
    /// Copy objects.
    S3PutObjectCopy,
    /// Replace object ACLs.
    S3PutObjectAcl,
    /// Replace object tags.
    S3PutObjectTagging,
    /// Delete object tags.
    S3DeleteObjectTagging,
    /// Restore archived objects.
    S3InitiateRestoreObject,
    /// Set Object Lock legal hold.
    S3PutObjectLegalHold,
    /// Set Object Lock retention.
    S3PutObjectRetention,
    /// Replicate objects.
    S3ReplicateObject,
    /// Compute object checksums.
    S3ComputeObjectChecksum,
    /// Change object encryption.
    S3UpdateObjectEncryption,
}

impl OperationName {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LambdaInvoke => "LambdaInvoke",
            Self::S3PutObjectCopy => "S3PutObjectCopy",
            Self::S3PutObjectAcl => "S3PutObjectAcl",
            Self::S3PutObjectTagging => "S3PutObjectTagging",
            Self::S3DeleteObjectTagging => "S3DeleteObjectTagging",
            Self::S3InitiateRestoreObject => "S3InitiateRestoreObject",
            Self::S3PutObjectLegalHold => "S3PutObjectLegalHold",
            Self::S3PutObjectRetention => "S3PutObjectRetention",
            Self::S3ReplicateObject => "S3ReplicateObject",
            Self::S3ComputeObjectChecksum => "S3ComputeObjectChecksum",
            Self::S3UpdateObjectEncryption => "S3UpdateObjectEncryption",
        }
    }
}

impl fmt::Display for OperationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A duration written as humantime text (`500ms`, `10s`, `30m`, `2h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text)
            .map(Self)
            .map_err(de::Error::custom)
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration such as `500ms`, `10s`, `30m` or `2h`",
            "type": "string",
            "format": "duration",
            "examples": ["10s", "30m", "2h"]
        })
    }
}

/// A list of statuses written as one status (`Suspended`) or a list (`[Suspended, Ready]`).
#[derive(Debug, Clone, PartialEq)]
pub enum StatusList {
    /// `Suspended`: the span is the enclosing value's.
    One(JobStatus),
    /// `[Suspended, Ready]`.
    Many(Vec<Spanned<JobStatus>>),
}

impl StatusList {
    /// The statuses, in file order.
    pub fn statuses(&self) -> Vec<JobStatus> {
        match self {
            Self::One(status) => vec![*status],
            Self::Many(list) => list.iter().map(|s| s.value).collect(),
        }
    }
}

/// Visits a status or a list of statuses; with `long_form`, also a `{job, status, timeout}` map.
///
/// This is why `wait_for` has a hand-written `Deserialize`: serde's `untagged` would buffer the value and
/// lose spans and error positions, while the three shapes (string, sequence, mapping) are told apart by
/// the YAML node kind alone, so one visitor can take each shape straight from serde-saphyr.
struct StatusVisitor {
    long_form: bool,
}

impl<'de> Visitor<'de> for StatusVisitor {
    type Value = WaitFor;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.long_form {
            f.write_str("a job status, a list of job statuses, or a map with `status`")
        } else {
            f.write_str("a job status or a list of job statuses")
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<WaitFor, E> {
        text.parse::<JobStatus>()
            .map(|s| WaitFor::Own(StatusList::One(s)))
            .map_err(de::Error::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WaitFor, A::Error> {
        let mut list = Vec::new();
        while let Some(status) = seq.next_element::<Spanned<JobStatus>>()? {
            list.push(status);
        }
        Ok(WaitFor::Own(StatusList::Many(list)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<WaitFor, A::Error> {
        if !self.long_form {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        GateLong::deserialize(de::value::MapAccessDeserializer::new(map))
            .map(|long| WaitFor::Long(Box::new(long)))
    }
}

impl<'de> Deserialize<'de> for StatusList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(StatusVisitor { long_form: false })? {
            WaitFor::Own(list) => Ok(list),
            WaitFor::Long(_) => Err(de::Error::custom("expected a job status or a list")),
        }
    }
}

impl JsonSchema for StatusList {
    fn schema_name() -> Cow<'static, str> {
        "StatusList".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let status = generator.subschema_for::<JobStatus>();
        json_schema!({
            "description": "One job status, or a non-empty list of them",
            "anyOf": [
                status,
                { "type": "array", "items": status, "minItems": 1 }
            ]
        })
    }
}

/// The gate of an entry (`wait_for`).
#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    /// `wait_for: Suspended` or `wait_for: [Suspended, Ready]`: each job of the entry waits for its own
    /// status, with the plan's timeout.
    Own(StatusList),
    /// `wait_for: { job, status, timeout }`.
    Long(Box<GateLong>),
}

impl<'de> Deserialize<'de> for WaitFor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StatusVisitor { long_form: true })
    }
}

impl JsonSchema for WaitFor {
    fn schema_name() -> Cow<'static, str> {
        "WaitFor".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let short = generator.subschema_for::<StatusList>();
        let long = generator.subschema_for::<GateLong>();
        json_schema!({
            "description": "A status, a list of statuses, or the long form `{job, status, timeout}`",
            "anyOf": [short, long]
        })
    }
}

/// The long form of a gate.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateLong {
    /// Watch this job instead of the entry's own jobs.
    #[serde(default)]
    #[schemars(schema_with = "job_id_schema")]
    pub job: Option<Spanned<JobId>>,
    /// The target `job` lives in; required with `job` when the plan has several targets.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub target: Option<Spanned<String>>,
    /// The gate holds when the watched status is any of these.
    #[schemars(with = "StatusList")]
    pub status: Spanned<StatusList>,
    /// How long to wait, 1s to 7d (default: the plan's `timeout`).
    #[serde(default)]
    #[schemars(with = "Option<HumanDuration>")]
    pub timeout: Option<Spanned<HumanDuration>>,
    /// The gate holds only while at most this many of the watched job's tasks failed (0 or more).
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub max_failed_tasks: Option<Spanned<i64>>,
    /// The gate holds only while at most this share of the watched job's finished tasks (succeeded +
    /// failed) failed: `1%`, `0.5%`, 0% to 100%.
    #[serde(default)]
    #[schemars(schema_with = "percent_schema")]
    pub max_failure_rate: Option<Spanned<String>>,
}

impl GateLong {
    /// The task condition, if any (only the values in range; validation reports the others).
    pub fn tasks(&self) -> Option<TaskLimit> {
        let max_failed = self
            .max_failed_tasks
            .as_ref()
            .map(|m| m.value)
            .filter(|&m| m >= 0);
        let max_rate_bp = self
            .max_failure_rate
            .as_ref()
            .and_then(|r| parse_percent(&r.value))
            .filter(|&bp| bp <= 10_000);
        (max_failed.is_some() || max_rate_bp.is_some()).then_some(TaskLimit {
            max_failed,
            max_rate_bp,
        })
    }
}

/// Reads `1%`, `0.5 %` or `12.25%` as hundredths of a percent; `None` for anything else (no `%`, more
/// than two decimals, a sign).
pub fn parse_percent(text: &str) -> Option<u32> {
    let number = text.trim().strip_suffix('%')?.trim_end();
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || fraction.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let cents: u32 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(cents)
}

fn percent_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A percentage such as `1%` or `0.5%`, 0% to 100%",
        "type": "string",
        "pattern": "^[0-9]+(\\.[0-9]{1,2})? ?%$"
    })
}

/// The JSON Schema `format` the structure check uses for job ids.
pub(crate) const FORMAT_JOB_ID: &str = "job-id";
/// The JSON Schema `format` the structure check uses for account ids.
pub(crate) const FORMAT_ACCOUNT_ID: &str = "account-id";
/// The JSON Schema `format` the structure check uses for durations.
pub(crate) const FORMAT_DURATION: &str = "duration";
/// The JSON Schema `format` the structure check uses for timestamps.
pub(crate) const FORMAT_DATE_TIME: &str = "date-time";

fn job_id_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A Batch Operations job id: 5 to 36 letters, digits, `-` or `_`",
        "type": "string",
        "format": FORMAT_JOB_ID,
        "pattern": "^[a-zA-Z0-9_-]{5,36}$"
    })
}

fn job_ids_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = job_id_schema(generator);
    json_schema!({ "type": "array", "items": item, "minItems": 1 })
}

pub(super) fn account_id_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "An AWS account id: 12 digits, quoted",
        "type": "string",
        "format": FORMAT_ACCOUNT_ID,
        "pattern": "^[0-9]{12}$"
    })
}

fn targets_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<TargetSpec>();
    json_schema!({
        "description": "The accounts and regions the plan acts in",
        "type": "array",
        "items": item,
        "minItems": 1
    })
}

fn name_list_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Target names (`prod-us`, `dr/us-west-2`) or group names (`dr`: each of its regions)",
        "type": "array",
        "items": { "type": "string" },
        "minItems": 1
    })
}

fn timestamp_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "An RFC 3339 time such as `2026-11-28T00:00:00Z`",
        "type": "string",
        "format": FORMAT_DATE_TIME
    })
}
