//! The seed file: accounts, explicit jobs and generated batches, plus optional clock, knobs, rules and
//! credentials. YAML, validated by `schemas/sandbox-seed.schema.json` (generated from these types).
//!
//! Owns the file format, the built-in demo seed (`demo-seed.yaml`) and turning a seed into store jobs
//! placed so that each job has its seeded `status` at the sandbox's start time. Does not serve anything.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::auth::Credentials;
use super::clock::SimTime;
use super::error::SandboxError;
use super::knobs::Knobs;
use super::lifecycle::{
    Events, Failure, JobScript, JobStatus, Pause, Timeline, Timings, TransitionRules,
};
use super::store::{NewJob, Scope, Store, Tag};
use super::wire::OPERATION_NAMES;

/// The built-in demo seed (account `111122223333`), used when no seed is given.
pub const DEMO_SEED_YAML: &str = include_str!("demo-seed.yaml");

/// The demo account id.
pub const DEMO_ACCOUNT: &str = "111122223333";

/// A duration written like `90s`, `5m`, `2h 30m` (humantime syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedDuration(pub Duration);

impl SeedDuration {
    fn ms(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }
}

impl Serialize for SeedDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for SeedDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map(SeedDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration {text:?}: {e} (write e.g. 90s, 5m, 2h)"
                ))
            })
    }
}

impl schemars::JsonSchema for SeedDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration such as `90s`, `5m`, `2h 30m` or `1day`.",
            "pattern": "^[0-9]"
        })
    }
}

/// A seed document.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Sandbox time at start (RFC 3339). Default: the real current time.
    #[serde(default)]
    pub start_time: Option<String>,
    /// Seed for generated job ids and token checksums (same seed, same ids). Default 0.
    #[serde(default)]
    pub random_seed: Option<u64>,
    /// Region of the seeded jobs' Lambda and KMS ARNs. Default `us-east-1`. (A `JobArn` names the region the
    /// request was signed for.)
    #[serde(default)]
    pub region: Option<String>,
    /// Sandbox seconds per real second. Default 1 (flags override).
    #[serde(default)]
    pub speed: Option<f64>,
    /// Throttling and faults (flags override individual fields).
    #[serde(default)]
    pub knobs: Option<Knobs>,
    /// Choices for the UpdateJobStatus cases AWS does not document.
    #[serde(default)]
    pub rules: Option<TransitionRules>,
    /// Access keys to verify SigV4 signatures against. Empty: any signed request passes.
    #[serde(default)]
    pub credentials: Vec<Credentials>,
    /// Accounts and their jobs.
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
    /// The account each access key belongs to, for STS `GetCallerIdentity` (`AKID: "444455556666"`).
    /// Keys not listed belong to the first seeded account.
    #[serde(default)]
    pub caller_accounts: BTreeMap<String, String>,
}

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    /// 12-digit account id (an account may appear once per region).
    pub id: String,
    /// The region its jobs live in (the service keeps jobs per account and region). Default: the seed's
    /// `region`.
    #[serde(default)]
    pub region: Option<String>,
    /// Explicit jobs.
    #[serde(default)]
    pub jobs: Vec<SeedJob>,
    /// Generated batches of similar jobs.
    #[serde(default)]
    pub generate: Vec<SeedBatch>,
}

/// `count` jobs shaped like `job`, numbered from 1.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedBatch {
    /// How many jobs.
    pub count: u32,
    /// Ids become `{id_prefix}{n:05}`; without it ids are generated UUIDs.
    #[serde(default)]
    pub id_prefix: Option<String>,
    /// Descriptions become `{description_prefix}{n:05}` (overrides `job.description`).
    #[serde(default)]
    pub description_prefix: Option<String>,
    /// The shape of every job (its `id` must be unset).
    #[serde(default)]
    pub job: SeedJob,
}

/// One job.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedJob {
    /// Job id (5–36 of `[a-zA-Z0-9-_]`). Default: a generated UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Status at the sandbox's start time; the job's creation time is placed so that it holds. Without
    /// it the job is created `created_ago` before start and its status follows from the timings.
    #[serde(default)]
    pub status: Option<JobStatus>,
    /// Time between creation and sandbox start when `status` is not given. Default 0.
    #[serde(default)]
    pub created_ago: Option<SeedDuration>,
    /// `Description` (1–256 chars).
    #[serde(default)]
    pub description: Option<String>,
    /// `Priority`. Default 10.
    #[serde(default)]
    pub priority: Option<i32>,
    /// Operation name, e.g. `S3PutObjectTagging` (default), `S3PutObjectCopy`, `LambdaInvoke`.
    #[serde(default)]
    pub operation: Option<String>,
    /// Job tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Whether the job waits in `Suspended` for confirmation. Default true (what AWS does when the flag
    /// is omitted).
    #[serde(default)]
    pub confirmation_required: Option<bool>,
    /// `TotalNumberOfTasks`. Default 1000.
    #[serde(default)]
    pub tasks: Option<i64>,
    /// Fraction of tasks that fail without failing the job. Default 0.
    #[serde(default)]
    pub task_failure_rate: Option<f64>,
    /// How far (0..1) into its current phase the job is at start, for timed phases. Default 0.25.
    #[serde(default)]
    pub progress: Option<f64>,
    /// Phase lengths.
    #[serde(default)]
    pub timings: SeedTimings,
    /// A pre-emption while active.
    #[serde(default)]
    pub pause: Option<SeedPause>,
    /// A job-level failure.
    #[serde(default)]
    pub fail: Option<SeedFailure>,
    /// `SuspendedCause`. Default `AwaitingConfirmation`.
    #[serde(default)]
    pub suspended_cause: Option<String>,
    /// `StatusUpdateReason` for jobs seeded as already confirmed or cancelled.
    #[serde(default)]
    pub status_update_reason: Option<String>,
    /// `RoleArn`. Default `arn:aws:iam::{account}:role/batch-operations`.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// Whether the job was created with a `ManifestGenerator` (DescribeJob then shows the generator and,
    /// once the job is past `Preparing`, a `GeneratedManifestDescriptor`) instead of a manifest file.
    #[serde(default)]
    pub manifest_generator: bool,
}

/// Phase lengths (each optional; defaults: new 2s, preparing 10s, ready 5s, active 5m, transition 3s).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedTimings {
    /// `New`.
    #[serde(default)]
    pub new: Option<SeedDuration>,
    /// `Preparing`.
    #[serde(default)]
    pub preparing: Option<SeedDuration>,
    /// `Ready` (queue wait).
    #[serde(default)]
    pub ready: Option<SeedDuration>,
    /// Active time to attempt every task.
    #[serde(default)]
    pub active: Option<SeedDuration>,
    /// Each transitional status (`Pausing`, `Completing`, `Cancelling`, `Failing`).
    #[serde(default)]
    pub transition: Option<SeedDuration>,
}

/// A pre-emption.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedPause {
    /// Active time before pausing.
    pub after: SeedDuration,
    /// Time spent `Paused`.
    pub paused_for: SeedDuration,
}

/// A job-level failure.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedFailure {
    /// Active time before the job starts `Failing`.
    pub after: SeedDuration,
    /// `FailureCode`. Default `TaskFailureThresholdExceeded`.
    #[serde(default)]
    pub code: Option<String>,
    /// `FailureReason`.
    #[serde(default)]
    pub reason: Option<String>,
}

impl Seed {
    /// Parses a YAML (or JSON) seed document.
    pub fn from_yaml(text: &str, path: Option<&Path>) -> Result<Seed, SandboxError> {
        serde_saphyr::from_str(text).map_err(|e| SandboxError::ParseSeed {
            path: path.map(Path::to_owned),
            message: e.to_string(),
        })
    }

    /// Reads and parses a seed file.
    pub fn from_file(path: &Path) -> Result<Seed, SandboxError> {
        let text = std::fs::read_to_string(path).map_err(|source| SandboxError::ReadSeed {
            path: path.to_owned(),
            source,
        })?;
        Seed::from_yaml(&text, Some(path))
    }

    /// The built-in demo seed.
    pub fn demo() -> Seed {
        Seed::from_yaml(DEMO_SEED_YAML, None).expect("the built-in demo seed is valid (tested)")
    }

    /// The sandbox start time this seed asks for.
    pub(crate) fn start(&self) -> Result<Option<SimTime>, SandboxError> {
        self.start_time
            .as_deref()
            .map(|t| {
                t.parse::<jiff::Timestamp>()
                    .map(SimTime::from_timestamp)
                    .map_err(|e| SandboxError::InvalidSeed(format!("start_time {t:?}: {e}")))
            })
            .transpose()
    }

    /// The JSON Schema of the seed format.
    pub fn json_schema() -> String {
        let schema = schemars::schema_for!(Seed);
        let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
        text.push('\n');
        text
    }

    /// Adds the seed's accounts and jobs to `store`, placing them relative to `start`. Returns the number
    /// of jobs added.
    pub(crate) fn load_into(
        &self,
        store: &mut Store,
        start: SimTime,
    ) -> Result<usize, SandboxError> {
        let mut added = 0;
        for account in &self.accounts {
            if account.id.len() != 12 || !account.id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SandboxError::InvalidSeed(format!(
                    "account id {:?} must be 12 digits",
                    account.id
                )));
            }
            store.add_account(&account.id);
            let region = account
                .region
                .clone()
                .unwrap_or_else(|| store.region().to_owned());
            let mut jobs = Vec::new();
            // Each job's place in the account staggers its dates, so no two seeded jobs share a
            // CreationTime or TerminationDate (real jobs are submitted one after another): the first job
            // of the seed is the oldest, numbered batch jobs are created in number order.
            let total = account.jobs.len() as u64
                + account
                    .generate
                    .iter()
                    .map(|b| u64::from(b.count))
                    .sum::<u64>();
            let mut nth = 0u64;
            let rank = |nth: u64| total.saturating_sub(nth + 1);
            for job in &account.jobs {
                jobs.push(place(
                    job,
                    &account.id,
                    &region,
                    job.id.clone(),
                    job.description.clone(),
                    start,
                    rank(nth),
                    store,
                )?);
                nth += 1;
            }
            for batch in &account.generate {
                if batch.job.id.is_some() {
                    return Err(SandboxError::InvalidSeed(
                        "a generated batch's job template cannot have an id (use id_prefix)"
                            .to_owned(),
                    ));
                }
                for n in 1..=batch.count {
                    let id = match &batch.id_prefix {
                        Some(prefix) => format!("{prefix}{n:05}"),
                        None => store.generate_id(),
                    };
                    let description = match &batch.description_prefix {
                        Some(prefix) => Some(format!("{prefix}{n:05}")),
                        None => batch.job.description.clone(),
                    };
                    jobs.push(place(
                        &batch.job,
                        &account.id,
                        &region,
                        Some(id),
                        description,
                        start,
                        rank(nth),
                        store,
                    )?);
                    nth += 1;
                }
            }
            // Creation order is the ListJobs order: insert oldest first.
            jobs.sort_by_key(|j| j.script.created);
            for job in jobs {
                if let Some(id) = &job.id {
                    super::wire::check_job_id(id)
                        .map_err(|e| SandboxError::InvalidSeed(e.message))?;
                }
                store
                    .insert(Scope::new(&account.id, &region), job)
                    .map_err(|e| SandboxError::InvalidSeed(e.message))?;
                added += 1;
            }
        }
        Ok(added)
    }
}

const CONFIRM_DELAY_MS: i64 = 60_000;
const SETTLED_MS: i64 = 3_600_000;
/// Extra age per job of an account for jobs in a status that lasts until something happens (waiting for
/// confirmation, terminal): a second apart, so even 100,000 seeded jobs stay well inside retention.
const STAGGER_OPEN_MS: i64 = 1_000;
/// Extra time into a timed phase per job of an account (kept inside the phase).
const STAGGER_TIMED_MS: i64 = 10;

fn stagger(rank: u64, step_ms: i64) -> i64 {
    i64::try_from(rank)
        .unwrap_or(i64::MAX)
        .saturating_mul(step_ms)
}

/// Builds a store job whose status at `start` is the seeded one.
#[allow(clippy::too_many_arguments)] // one call per seeded job: the values differ per call
fn place(
    job: &SeedJob,
    account: &str,
    region: &str,
    id: Option<String>,
    description: Option<String>,
    start: SimTime,
    rank: u64,
    store: &mut Store,
) -> Result<NewJob, SandboxError> {
    let label = id.clone().unwrap_or_else(|| "(generated)".to_owned());
    let invalid = |msg: String| SandboxError::InvalidSeed(format!("job {label}: {msg}"));
    let defaults = Timings::default();
    let t = &job.timings;
    let timings = Timings {
        new_ms: t.new.map_or(defaults.new_ms, SeedDuration::ms),
        preparing_ms: t.preparing.map_or(defaults.preparing_ms, SeedDuration::ms),
        ready_ms: t.ready.map_or(defaults.ready_ms, SeedDuration::ms),
        active_ms: t.active.map_or(defaults.active_ms, SeedDuration::ms),
        transition_ms: t
            .transition
            .map_or(defaults.transition_ms, SeedDuration::ms),
    };
    let target = job.status;
    let mut pause = job.pause.map(|p| Pause {
        after_active_ms: p.after.ms(),
        paused_ms: p.paused_for.ms(),
    });
    if matches!(target, Some(JobStatus::Pausing | JobStatus::Paused)) && pause.is_none() {
        pause = Some(Pause {
            after_active_ms: timings.active_ms / 4,
            paused_ms: 600_000,
        });
    }
    let mut failure = job.fail.as_ref().map(|f| Failure {
        after_active_ms: f.after.ms(),
        code: f
            .code
            .clone()
            .unwrap_or_else(|| "TaskFailureThresholdExceeded".to_owned()),
        reason: f
            .reason
            .clone()
            .unwrap_or_else(|| "too many tasks failed".to_owned()),
    });
    if matches!(target, Some(JobStatus::Failing | JobStatus::Failed)) && failure.is_none() {
        failure = Some(Failure {
            after_active_ms: timings.active_ms / 2,
            code: "TaskFailureThresholdExceeded".to_owned(),
            reason: "the job failed half-way through its active time".to_owned(),
        });
    }
    let confirmation_required = match target {
        Some(JobStatus::Suspended) => true,
        _ => job.confirmation_required.unwrap_or(true),
    };
    let rate = job.task_failure_rate.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&rate) {
        return Err(invalid(format!(
            "task_failure_rate must be between 0 and 1, got {rate}"
        )));
    }
    let mut script = JobScript {
        created: SimTime(0),
        confirmation_required,
        timings,
        pause,
        failure,
        total_tasks: job.tasks.unwrap_or(1000).max(0),
        task_failure_rate: rate,
    };
    let progress = job.progress.unwrap_or(0.25).clamp(0.0, 1.0);
    let prepared = timings.new_ms + timings.preparing_ms;
    let confirm = confirmation_required.then_some(SimTime(prepared + CONFIRM_DELAY_MS));
    let mut events = Events::default();
    let rules = store.rules();
    let offset = match target {
        None => {
            events.confirmed_at = None;
            -job.created_ago.map_or(0, SeedDuration::ms)
        }
        Some(status) => {
            if !matches!(
                status,
                JobStatus::New | JobStatus::Preparing | JobStatus::Suspended
            ) {
                events.confirmed_at = confirm;
            }
            if matches!(status, JobStatus::Cancelling | JobStatus::Cancelled) {
                // Cancelled: a job cancelled while waiting for confirmation; Cancelling: cancelled while
                // running, `progress` of the way through its active time.
                let natural = Timeline::build(&script, events, rules);
                let at = if status == JobStatus::Cancelled && confirmation_required {
                    events.confirmed_at = None;
                    SimTime(prepared + CONFIRM_DELAY_MS)
                } else {
                    let active = first_start(&natural, JobStatus::Active).ok_or_else(|| {
                        invalid("never becomes Active, cannot be cancelled while running".into())
                    })?;
                    active.plus_ms((timings.active_ms as f64 * progress) as i64)
                };
                events.cancelled_at = Some(at);
            }
            let timeline = Timeline::build(&script, events, rules);
            let segments = timeline.segments();
            let idx = segments
                .iter()
                .position(|s| s.status == status)
                .ok_or_else(|| invalid(format!("its timings never reach {status}")))?;
            let seg_start = segments[idx].start.0;
            let within = match segments.get(idx + 1) {
                Some(next) => {
                    let len = next.start.0 - seg_start;
                    if len <= 0 {
                        return Err(invalid(format!("the {status} phase has zero length")));
                    }
                    ((len as f64 * progress) as i64)
                        .saturating_add(stagger(rank, STAGGER_TIMED_MS))
                        .clamp(0, len - 1)
                }
                None if status == JobStatus::Suspended => 600_000 + stagger(rank, STAGGER_OPEN_MS),
                None => SETTLED_MS + stagger(rank, STAGGER_OPEN_MS),
            };
            -(seg_start + within)
        }
    };
    let shift = |t: SimTime| SimTime(t.0 + start.0 + offset);
    script.created = SimTime(start.0 + offset);
    events.confirmed_at = events.confirmed_at.map(shift);
    events.cancelled_at = events.cancelled_at.map(shift);
    if let Some(status) = target {
        let check = Timeline::build(&script, events, rules).status_at(start);
        if check != status {
            return Err(invalid(format!(
                "its timings give {check} at start, not {status}"
            )));
        }
    }
    let operation_name = job
        .operation
        .clone()
        .unwrap_or_else(|| "S3PutObjectTagging".to_owned());
    if !OPERATION_NAMES.contains(&operation_name.as_str()) {
        return Err(invalid(format!(
            "unknown operation {operation_name:?}; expected one of {}",
            OPERATION_NAMES.join(", ")
        )));
    }
    let id_or_placeholder = id.clone().unwrap_or_else(|| "job".to_owned());
    Ok(NewJob {
        id,
        description,
        priority: job.priority.unwrap_or(10).max(0),
        operation_xml: operation_xml(&operation_name, account, &job.tags, region),
        operation_name,
        manifest_xml: Some(if job.manifest_generator {
            format!(
                "<ManifestGenerator><S3JobManifestGenerator><SourceBucket>arn:aws:s3:::data-{account}</SourceBucket><ManifestOutputLocation><Bucket>arn:aws:s3:::manifests-{account}</Bucket><ManifestPrefix>generated</ManifestPrefix><ManifestFormat>S3InventoryReport_CSV_20211130</ManifestFormat></ManifestOutputLocation><EnableManifestOutput>true</EnableManifestOutput></S3JobManifestGenerator></ManifestGenerator>"
            )
        } else {
            format!(
                "<Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member><member>Key</member></Fields></Spec><Location><ObjectArn>arn:aws:s3:::manifests-{account}/{id_or_placeholder}.csv</ObjectArn><ETag>60e460c9d1046e73f7dde5043ac3ae85</ETag></Location></Manifest>"
            )
        }),
        report_xml: "<Report><Enabled>false</Enabled></Report>".to_owned(),
        role_arn: job
            .role_arn
            .clone()
            .unwrap_or_else(|| format!("arn:aws:iam::{account}:role/batch-operations")),
        tags: job
            .tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        script,
        events,
        status_update_reason: job.status_update_reason.clone(),
        suspended_cause: job.suspended_cause.clone(),
    })
}

/// The `<Operation>` element of a seeded job: each operation with the parameters a real job of that kind
/// carries (a tagging job its tag set, a copy job its target bucket, …), so a client reading them sees
/// what it would see from the service.
fn operation_xml(
    name: &str,
    account: &str,
    tags: &BTreeMap<String, String>,
    region: &str,
) -> String {
    let params = match name {
        "LambdaInvoke" => format!(
            "<FunctionArn>arn:aws:lambda:{region}:{account}:function:batch-worker</FunctionArn><InvocationSchemaVersion>2.0</InvocationSchemaVersion>"
        ),
        "S3PutObjectCopy" => format!(
            "<TargetResource>arn:aws:s3:::archive-{account}</TargetResource><MetadataDirective>COPY</MetadataDirective><StorageClass>GLACIER_IR</StorageClass><TargetKeyPrefix>copied/</TargetKeyPrefix>"
        ),
        "S3PutObjectAcl" => "<AccessControlPolicy><CannedAccessControlList>bucket-owner-full-control</CannedAccessControlList></AccessControlPolicy>".to_owned(),
        "S3PutObjectTagging" => {
            let mut set = String::from("<TagSet>");
            // The tags the job writes to objects: the job's own tags, else one marker tag.
            let marker = BTreeMap::from([("batch".to_owned(), "retagged".to_owned())]);
            let source = if tags.is_empty() { &marker } else { tags };
            for (k, v) in source {
                set.push_str(&format!(
                    "<member><Key>{}</Key><Value>{}</Value></member>",
                    super::xml::escape(k),
                    super::xml::escape(v)
                ));
            }
            set.push_str("</TagSet>");
            set
        }
        "S3InitiateRestoreObject" => {
            "<ExpirationInDays>7</ExpirationInDays><GlacierJobTier>BULK</GlacierJobTier>".to_owned()
        }
        "S3PutObjectLegalHold" => "<LegalHold><Status>ON</Status></LegalHold>".to_owned(),
        "S3PutObjectRetention" => "<BypassGovernanceRetention>false</BypassGovernanceRetention><Retention><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate><Mode>GOVERNANCE</Mode></Retention>".to_owned(),
        "S3ComputeObjectChecksum" => {
            "<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>".to_owned()
        }
        "S3UpdateObjectEncryption" => format!(
            "<ObjectEncryption><SSE-KMS><KMSKeyArn>arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab</KMSKeyArn><BucketKeyEnabled>true</BucketKeyEnabled></SSE-KMS></ObjectEncryption>"
        ),
        // S3DeleteObjectTagging and S3ReplicateObject have no parameters in the model.
        _ => String::new(),
    };
    format!("<Operation><{name}>{params}</{name}></Operation>")
}

fn first_start(timeline: &Timeline, status: JobStatus) -> Option<SimTime> {
    timeline
        .segments()
        .iter()
        .find(|s| s.status == status)
        .map(|s| s.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(account: &str) -> Scope<'_> {
        Scope::new(account, "us-east-1")
    }

    fn store() -> Store {
        Store::new("us-east-1", TransitionRules::default(), 0)
    }

    #[test]
    fn every_status_can_be_seeded() {
        let start = SimTime(1_700_000_000_000);
        for status in JobStatus::ALL {
            let seed = Seed {
                accounts: vec![SeedAccount {
                    id: DEMO_ACCOUNT.into(),
                    region: None,
                    jobs: vec![SeedJob {
                        id: Some(format!("job-{status}")),
                        status: Some(status),
                        ..SeedJob::default()
                    }],
                    generate: Vec::new(),
                }],
                ..Seed::default()
            };
            let mut store = store();
            seed.load_into(&mut store, start).unwrap();
            let (_, snap) = store
                .job(sc(DEMO_ACCOUNT), &format!("job-{status}"), start)
                .unwrap();
            assert_eq!(snap.status, status);
        }
    }

    #[test]
    fn demo_seed_loads_with_its_documented_shape() {
        let mut store = store();
        let n = Seed::demo()
            .load_into(&mut store, SimTime(1_700_000_000_000))
            .unwrap();
        assert!(n >= 20, "{n}");
        assert!(store.has_account(DEMO_ACCOUNT));
    }

    #[test]
    fn demo_jobs_have_distinct_creation_and_termination_times_and_uuid_ids() {
        let mut store = store();
        let start = SimTime(1_700_000_000_000);
        Seed::demo().load_into(&mut store, start).unwrap();
        for account in [DEMO_ACCOUNT, "444455556666"] {
            let page = store.list(sc(account), &[], 1000, None, start).unwrap();
            let mut created = std::collections::HashSet::new();
            let mut ended = std::collections::HashSet::new();
            for (record, snap) in &page.jobs {
                assert!(
                    uuid::Uuid::parse_str(&record.id).is_ok(),
                    "{} is not a UUID",
                    record.id
                );
                assert!(
                    created.insert(record.script.created),
                    "{} shares a CreationTime",
                    record.id
                );
                if let Some(end) = snap.termination_date {
                    assert!(ended.insert(end), "{} shares a TerminationDate", record.id);
                }
            }
            assert!(created.len() >= 2);
        }
    }

    #[test]
    fn seeded_operations_carry_their_parameters() {
        let mut store = store();
        let start = SimTime(1_700_000_000_000);
        let ops = [
            ("LambdaInvoke", "<FunctionArn>arn:aws:lambda:us-east-1:"),
            ("S3PutObjectCopy", "<TargetResource>arn:aws:s3:::"),
            ("S3PutObjectAcl", "<CannedAccessControlList>"),
            (
                "S3PutObjectTagging",
                "<TagSet><member><Key>team</Key><Value>x</Value>",
            ),
            ("S3InitiateRestoreObject", "<ExpirationInDays>"),
            (
                "S3PutObjectLegalHold",
                "<LegalHold><Status>ON</Status></LegalHold>",
            ),
            ("S3PutObjectRetention", "<Retention><RetainUntilDate>"),
            ("S3ComputeObjectChecksum", "<ChecksumAlgorithm>"),
            (
                "S3UpdateObjectEncryption",
                "<ObjectEncryption><SSE-KMS><KMSKeyArn>",
            ),
            (
                "S3DeleteObjectTagging",
                "<S3DeleteObjectTagging></S3DeleteObjectTagging>",
            ),
        ];
        for (op, needle) in ops {
            let job = SeedJob {
                id: Some(format!("job-{op}")),
                operation: Some(op.to_owned()),
                tags: BTreeMap::from([("team".to_owned(), "x".to_owned())]),
                ..SeedJob::default()
            };
            let new = place(
                &job,
                DEMO_ACCOUNT,
                "us-east-1",
                job.id.clone(),
                None,
                start,
                0,
                &mut store,
            )
            .unwrap();
            assert!(
                new.operation_xml.contains(needle),
                "{op}: {}",
                new.operation_xml
            );
            assert!(new.operation_xml.starts_with(&format!("<Operation><{op}>")));
        }
    }

    #[test]
    fn batches_generate_numbered_jobs() {
        let yaml = r#"
accounts:
  - id: "444455556666"
    generate:
      - count: 3
        id_prefix: "reindex-"
        description_prefix: "reindex shard "
        job: {status: Active, tags: {team: search}}
"#;
        let seed = Seed::from_yaml(yaml, None).unwrap();
        let mut store = store();
        let start = SimTime(1_700_000_000_000);
        assert_eq!(seed.load_into(&mut store, start).unwrap(), 3);
        let (job, snap) = store
            .job(sc("444455556666"), "reindex-00003", start)
            .unwrap();
        assert_eq!(snap.status, JobStatus::Active);
        assert_eq!(job.description.as_deref(), Some("reindex shard 00003"));
        assert_eq!(job.tags[0].key, "team");
    }

    #[test]
    fn bad_seeds_are_explained() {
        let unknown_field = Seed::from_yaml("accounts: [{id: '111122223333', jobz: []}]", None);
        assert!(unknown_field.unwrap_err().to_string().contains("jobz"));
        let bad_duration = Seed::from_yaml(
            "accounts: [{id: '111122223333', jobs: [{timings: {active: soon}}]}]",
            None,
        );
        assert!(bad_duration.unwrap_err().to_string().contains("soon"));
        let seed = Seed::from_yaml("accounts: [{id: '12'}]", None).unwrap();
        let err = seed.load_into(&mut store(), SimTime(0)).unwrap_err();
        assert!(err.to_string().contains("12 digits"), "{err}");
    }

    #[test]
    fn settings_sections_parse() {
        let yaml = r#"
start_time: 2026-06-01T12:00:00Z
random_seed: 42
region: eu-west-1
speed: 60
knobs: {fault_rate: 0.01, throttle: {UpdateJobStatus: {rate: 5, burst: 10}}, throttle_all: {rate: 100}}
rules: {cancel_before_start: Cancelling, repeat_request: Accept}
credentials: [{access_key_id: AKIDSANDBOX, secret_access_key: sandbox}]
accounts: []
"#;
        let seed = Seed::from_yaml(yaml, None).unwrap();
        assert_eq!(seed.start().unwrap(), Some(SimTime(1_780_315_200_000)));
        let knobs = seed.knobs.unwrap();
        assert_eq!(
            knobs.throttle[&super::super::operation::Operation::UpdateJobStatus].burst,
            Some(10)
        );
        assert_eq!(knobs.throttle_all.unwrap().rate, 100.0);
        assert_eq!(
            seed.rules.unwrap().cancel_before_start,
            super::super::lifecycle::CancelBeforeStart::Cancelling
        );
        assert_eq!(seed.credentials[0].access_key_id, "AKIDSANDBOX");
    }

    #[test]
    fn committed_schema_matches_the_types() {
        let committed = include_str!("../../schemas/sandbox-seed.schema.json");
        assert_eq!(
            committed,
            Seed::json_schema(),
            "run `s3plan sandbox --print-seed-schema > schemas/sandbox-seed.schema.json`"
        );
    }
}
