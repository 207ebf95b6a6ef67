//! Saved plans: the file `s3plan plan --out SAVED.json` writes and `s3plan apply SAVED.json` reads.
//!
//! Owns the on-disk format (serde types, a `s3plan_saved_plan` marker holding the format version; every
//! target with its account, region, endpoint and credential source, and each job's target by name), its
//! detection, and the re-check made before a saved plan is applied: the plan file (when still at its recorded
//! path) must hash the same, and every job must be judged now as it was at review time or be at its target
//! already (a second apply converges). Each target's jobs are read again in that target, in one sweep
//! ([`reread`]): ListJobs pages filtered to the statuses seen at review time and the non-terminal ones, then
//! DescribeJob only for the jobs the listing did not show, so N jobs cost about N / 1,000 reads instead of N.
//! Also rebuilds the plan as reviewed, from the file alone, for `s3plan plan SAVED.json`. A saved plan names
//! its jobs, so no selector is re-run: a job created after the review is never touched. Does not connect or
//! decide accounts and regions (`commands/session.rs`), and does
//! not run anything (`exec`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::{AccountId, ApiError, JobControl, JobId, JobStatus, Progress};
use crate::exec::retry::Caller;
use crate::exec::sweep::{Pages, Seen, Sweep, sweep};
use crate::forecast::{self, DecisionKey, Forecast, Verdict, Watched};
use crate::resolve::Place;
use crate::resolved::{
    Action, Gate, GateSubject, ResolvedEntry, ResolvedJob, ResolvedPlan, RunSettings, Target,
    TaskLimit,
};

/// The format version written in the `s3plan_saved_plan` marker. Format 3 added `max_age`; a format 2 file
/// (without it) is still read, with [`DEFAULT_MAX_AGE`]. Format 4 lists `targets` and names each job's (and
/// each watched job's) target; a format 2 or 3 file, with one `account_id`, `region` and `endpoint`, reads as
/// one unnamed target.
pub const FORMAT_VERSION: u32 = 4;

/// The oldest format still read.
const OLDEST_READ: u32 = 2;

/// How long a saved plan stays applicable when `plan --max-age` does not say: a review older than a day
/// describes jobs that have likely moved on, and the operator who reviewed it may no longer be on call.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// A reviewed plan: exactly the jobs `apply` may touch, and what was seen when it was reviewed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    /// The marker and format version ([`FORMAT_VERSION`]).
    pub s3plan_saved_plan: u32,
    /// The s3plan version that wrote it.
    pub s3plan_version: String,
    /// When it was written.
    pub created_at: jiff::Timestamp,
    /// How long after `created_at` it may be applied (a duration such as `24h`; absent in format 2).
    #[serde(with = "humantime_serde_duration", default = "default_max_age")]
    pub max_age: Duration,
    /// The plan file it was made from.
    pub plan: PlanFile,
    /// Where it acts, in plan order (format 4; [`detect`] fills it from the fields below for older files).
    #[serde(default)]
    pub targets: Vec<SavedTarget>,
    /// The one account of a format 2 or 3 file; never written.
    #[serde(default, skip_serializing)]
    pub account_id: Option<String>,
    /// The one region of a format 2 or 3 file; never written.
    #[serde(default, skip_serializing)]
    pub region: Option<String>,
    /// The one custom endpoint of a format 2 or 3 file; never written.
    #[serde(default, skip_serializing)]
    pub endpoint: Option<String>,
    /// The limits and timings resolved at review time (flags of `apply` may still override them).
    pub settings: SavedSettings,
    /// Entries in plan order, with their jobs.
    pub entries: Vec<SavedEntry>,
}

/// One target of a saved plan: where its jobs live and how `apply` gets credentials for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedTarget {
    /// The plan's name for it; `null` for the one target of a plan without `targets:`.
    pub name: Option<String>,
    /// The account every call to it names.
    pub account_id: String,
    /// Its region.
    pub region: String,
    /// The custom endpoint it was reviewed against, if any.
    pub endpoint: Option<String>,
    /// Where its credentials come from, as the plan said (`apply`'s own `--profile` or chain for `chain`).
    #[serde(default)]
    pub credentials: SavedCredentials,
}

/// Where a saved target's credentials come from (a name or an ARN, never a secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SavedCredentials {
    /// The standard chain (or `apply --profile`).
    #[default]
    Chain,
    /// A named profile.
    Profile(String),
    /// A role assumed through STS from the base credentials.
    RoleArn(String),
}

impl From<&crate::plan::TargetCredentials> for SavedCredentials {
    fn from(credentials: &crate::plan::TargetCredentials) -> Self {
        match credentials {
            crate::plan::TargetCredentials::Chain => Self::Chain,
            crate::plan::TargetCredentials::Profile(name) => Self::Profile(name.clone()),
            crate::plan::TargetCredentials::AssumeRole { role_arn } => {
                Self::RoleArn(role_arn.clone())
            }
        }
    }
}

/// The plan file a saved plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// Its absolute path at review time.
    pub path: PathBuf,
    /// The sha256 of its bytes, hex.
    pub sha256: String,
}

/// Limits and timings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSettings {
    /// Mutating calls in flight at once.
    pub concurrency: u32,
    /// Mutating calls per second.
    pub rate_limit: f64,
    /// Read calls per second.
    pub poll_rate_limit: f64,
    /// Gate polling interval, in milliseconds.
    pub poll_interval_ms: u64,
}

/// A gate, as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedGate {
    /// The job watched; `None` for each job's own status.
    pub job_id: Option<JobId>,
    /// The watched job's target, by name (format 4; `None` for the unnamed one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The gate holds when the watched status is one of these.
    pub statuses: Vec<JobStatus>,
    /// How long to wait, in milliseconds.
    pub timeout_ms: u64,
    /// The task condition that must hold as well, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<TaskLimit>,
}

/// One entry, as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedEntry {
    /// The entry's name.
    pub name: String,
    /// Indexes of the entries that must succeed first.
    pub after: Vec<usize>,
    /// The changes asked of every job, in the order they are sent.
    pub actions: Vec<Action>,
    /// The `StatusUpdateReason`.
    pub reason: Option<String>,
    /// The gate.
    pub gate: Option<SavedGate>,
    /// Exactly the jobs apply may touch.
    pub jobs: Vec<SavedJob>,
}

/// One job, as seen at review time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedJob {
    /// The job's target, by name (format 4; `None` for the unnamed one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The job.
    pub job_id: JobId,
    /// Its description.
    pub description: Option<String>,
    /// Its status.
    pub status: JobStatus,
    /// Its priority.
    pub priority: i32,
    /// Its task counters, when the review saw them.
    pub progress: Option<Progress>,
    /// What apply would have done.
    pub verdict: Verdict,
    /// The decision key compared before applying.
    pub decision: DecisionKey,
}

/// Why a saved plan cannot be read or applied. Nothing was changed when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// The file is not valid JSON of this format.
    #[error("{path} is not a valid saved plan: {source}")]
    Format {
        /// The file.
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A newer (or unknown) format version.
    #[error(
        "{path} is a saved plan of format {found}; this s3plan reads formats {OLDEST_READ} to {FORMAT_VERSION}"
    )]
    Version {
        /// The file.
        path: String,
        /// The version found.
        found: u32,
    },
    /// The plan file changed since the review.
    #[error(
        "the plan file {path} changed since the review (sha256 {then} then, {now} now); nothing was changed"
    )]
    PlanChanged {
        /// The plan file.
        path: String,
        /// The recorded hash.
        then: String,
        /// The hash now.
        now: String,
    },
    /// The saved plan is older than its `max_age`.
    #[error(
        "{path} was saved {age} ago ({created_at}), older than its max age of {max_age}; nothing was changed"
    )]
    Expired {
        /// The file.
        path: String,
        /// When it was written.
        created_at: jiff::Timestamp,
        /// Its age now, rounded to the second.
        age: String,
        /// Its max age.
        max_age: String,
    },
    /// A field holds a value this s3plan cannot use.
    #[error("the saved plan's {field} is not valid: {problem}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Jobs moved in a way that changes what apply would do.
    #[error(
        "{} job{} changed since the review in a way that changes what apply would do; nothing was changed",
        count,
        if *count == 1 { "" } else { "s" }
    )]
    Moved {
        /// How many jobs moved.
        count: usize,
        /// One line per job: entry, job, then and now.
        list: String,
    },
}

/// Whether the file at `path` is a saved plan: JSON whose top-level object has the marker. Reads the file;
/// a file that cannot be read is not a saved plan here (loading it as a plan reports the error). The file is
/// streamed, never held whole: a saved plan of 100,000 jobs is about 60 MB of JSON, which held beside the
/// plan it parses into was most of a saved plan's apply's memory.
pub fn detect(path: &Path) -> Result<Option<SavedPlan>, SavedPlanError> {
    let open = || std::fs::File::open(path).map(std::io::BufReader::new);
    let Ok(mut reader) = open() else {
        return Ok(None);
    };
    if first_byte(&mut reader) != Some(b'{') {
        return Ok(None);
    }
    // The marker alone first: every other field is skipped without being built, so a saved plan of 100,000
    // jobs is never held as a `serde_json::Value` tree (several times the file's size).
    #[derive(Deserialize)]
    struct Marker {
        s3plan_saved_plan: Option<serde_json::Value>,
    }
    let Ok(Marker {
        s3plan_saved_plan: Some(marker),
    }) = serde_json::from_reader::<_, Marker>(reader)
    else {
        return Ok(None);
    };
    let name = path.display().to_string();
    let found = marker
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0);
    if !(OLDEST_READ..=FORMAT_VERSION).contains(&found) {
        return Err(SavedPlanError::Version { path: name, found });
    }
    let reader = open().map_err(|source| SavedPlanError::Format {
        path: name.clone(),
        source: serde_json::Error::io(source),
    })?;
    let mut saved: SavedPlan = serde_json::from_reader(reader)
        .map_err(|source| SavedPlanError::Format { path: name, source })?;
    saved.upgrade()?;
    Ok(Some(saved))
}

/// The first byte of `reader` that is not ASCII whitespace, if any can be read.
fn first_byte(reader: &mut impl std::io::BufRead) -> Option<u8> {
    loop {
        let buffer = reader.fill_buf().ok()?;
        if buffer.is_empty() {
            return None;
        }
        if let Some(&byte) = buffer.iter().find(|b| !b.is_ascii_whitespace()) {
            return Some(byte);
        }
        let consumed = buffer.len();
        reader.consume(consumed);
    }
}

impl SavedPlan {
    /// Records `resolved` as judged in `forecast`, made from the plan file at `plan_path`, applicable for
    /// `max_age`; `credentials` says where each target (in `resolved.targets` order) gets its credentials.
    pub fn new(
        plan_path: PathBuf,
        sha256: String,
        max_age: Duration,
        resolved: &ResolvedPlan,
        forecast: &Forecast,
        credentials: &[SavedCredentials],
    ) -> Self {
        let name = |index: usize| resolved.target_name(index).map(str::to_owned);
        let settings = &resolved.settings;
        let entries = resolved
            .entries
            .iter()
            .zip(&forecast.entries)
            .map(|(entry, judged)| SavedEntry {
                name: entry.name.clone(),
                after: entry.after.clone(),
                actions: entry.actions.clone(),
                reason: entry.reason.clone(),
                gate: entry.gate.as_ref().map(|gate| SavedGate {
                    job_id: match &gate.subject {
                        GateSubject::OwnStatus => None,
                        GateSubject::OtherJob { job, .. } => Some(job.clone()),
                    },
                    target: match &gate.subject {
                        GateSubject::OwnStatus => None,
                        GateSubject::OtherJob { target, .. } => name(*target),
                    },
                    statuses: gate.statuses.clone(),
                    timeout_ms: millis(gate.timeout),
                    tasks: gate.tasks,
                }),
                jobs: entry
                    .jobs
                    .iter()
                    .zip(&judged.jobs)
                    .map(|(job, judged)| SavedJob {
                        target: name(job.target()),
                        job_id: job.id.clone(),
                        description: job.description.as_deref().map(str::to_owned),
                        status: job.status_seen,
                        priority: job.priority_seen,
                        progress: Some(job.progress_seen()),
                        verdict: judged.verdict,
                        decision: judged.decision.clone(),
                    })
                    .collect(),
            })
            .collect();
        Self {
            s3plan_saved_plan: FORMAT_VERSION,
            s3plan_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_at: jiff::Timestamp::now(),
            max_age,
            plan: PlanFile {
                path: plan_path,
                sha256,
            },
            targets: resolved
                .targets
                .iter()
                .enumerate()
                .map(|(index, target)| SavedTarget {
                    name: target.name.clone(),
                    account_id: target.account_id.to_string(),
                    region: target.region.clone(),
                    endpoint: target.endpoint.clone(),
                    credentials: credentials.get(index).cloned().unwrap_or_default(),
                })
                .collect(),
            account_id: None,
            region: None,
            endpoint: None,
            settings: SavedSettings {
                concurrency: settings.concurrency,
                rate_limit: settings.rate_limit,
                poll_rate_limit: settings.poll_rate_limit,
                poll_interval_ms: millis(settings.poll_interval),
            },
            entries,
        }
    }

    /// Brings a format 2 or 3 file (one `account_id`, `region` and `endpoint`) to format 4's one unnamed
    /// target, and checks that every target a job or gate names is listed.
    fn upgrade(&mut self) -> Result<(), SavedPlanError> {
        let legacy = (
            self.account_id.take(),
            self.region.take(),
            self.endpoint.take(),
        );
        match (self.s3plan_saved_plan, legacy) {
            (..4, (Some(account_id), Some(region), endpoint)) if self.targets.is_empty() => {
                self.targets = vec![SavedTarget {
                    name: None,
                    account_id,
                    region,
                    endpoint,
                    credentials: SavedCredentials::Chain,
                }];
            }
            (..4, _) => {
                return Err(SavedPlanError::Field {
                    field: "account_id",
                    problem: format!(
                        "a format {} saved plan names one account_id and region",
                        self.s3plan_saved_plan
                    ),
                });
            }
            (_, (None, None, None)) if !self.targets.is_empty() => {}
            _ => {
                return Err(SavedPlanError::Field {
                    field: "targets",
                    problem: "a format 4 saved plan lists its targets (and no account_id, region or endpoint of its own)".to_owned(),
                });
            }
        }
        for entry in &self.entries {
            let named = entry.jobs.iter().map(|j| &j.target).chain(
                entry
                    .gate
                    .iter()
                    .filter(|g| g.job_id.is_some())
                    .map(|g| &g.target),
            );
            for name in named {
                self.target_index(name.as_deref())?;
            }
        }
        Ok(())
    }

    /// The index in [`SavedPlan::targets`] of the target named `name`.
    fn target_index(&self, name: Option<&str>) -> Result<usize, SavedPlanError> {
        self.targets
            .iter()
            .position(|t| t.name.as_deref() == name)
            .ok_or_else(|| SavedPlanError::Field {
                field: "target",
                problem: format!(
                    "target {} is not among the saved plan's targets",
                    name.unwrap_or("null")
                ),
            })
    }

    /// The saved targets as a run names them.
    pub fn run_targets(&self) -> Result<Vec<Target>, SavedPlanError> {
        self.targets
            .iter()
            .map(|t| {
                Ok(Target {
                    name: t.name.clone(),
                    account_id: AccountId::parse(&t.account_id).map_err(|error| {
                        SavedPlanError::Field {
                            field: "account_id",
                            problem: error.to_string(),
                        }
                    })?,
                    region: t.region.clone(),
                    endpoint: t.endpoint.clone(),
                })
            })
            .collect()
    }

    /// Refuses when the saved plan is older than its `max_age` at `now`. A `created_at` in the future (a
    /// clock set back, or an edited file) counts as age zero: the recheck of every job still guards it.
    pub fn check_age(&self, path: &Path, now: jiff::Timestamp) -> Result<(), SavedPlanError> {
        let age = now.duration_since(self.created_at);
        let age = Duration::try_from(age).unwrap_or(Duration::ZERO);
        if age <= self.max_age {
            return Ok(());
        }
        Err(SavedPlanError::Expired {
            path: path.display().to_string(),
            created_at: self.created_at,
            age: humantime::format_duration(Duration::from_secs(age.as_secs())).to_string(),
            max_age: humantime::format_duration(self.max_age).to_string(),
        })
    }

    /// Refuses when the plan file is still at its recorded path and its bytes changed since the review.
    pub fn check_plan_file(&self) -> Result<(), SavedPlanError> {
        let Ok(bytes) = std::fs::read(&self.plan.path) else {
            tracing::info!(
                path = %self.plan.path.display(),
                "the plan file is no longer at its recorded path; applying the saved jobs"
            );
            return Ok(());
        };
        let now = hex::encode(Sha256::digest(&bytes));
        if now == self.plan.sha256 {
            Ok(())
        } else {
            Err(SavedPlanError::PlanChanged {
                path: self.plan.path.display().to_string(),
                then: self.plan.sha256.clone(),
                now,
            })
        }
    }

    /// The recorded settings, for `target` and run `mode`.
    pub fn run_settings(&self, mode: crate::resolved::RunMode) -> RunSettings {
        RunSettings {
            concurrency: self.settings.concurrency.max(1),
            rate_limit: self.settings.rate_limit,
            poll_rate_limit: self.settings.poll_rate_limit,
            poll_interval: Duration::from_millis(self.settings.poll_interval_ms),
            mode,
        }
    }

    /// Reads every saved job again, in each of `places` (one per saved target, in order; one sweep per
    /// target, [`reread`]), and builds the plan to run from the saved jobs with their statuses now; refuses
    /// when any job would now be treated differently than at review time.
    pub async fn recheck<C: JobControl>(
        &self,
        places: &[Place<'_, C>],
        settings: RunSettings,
    ) -> Result<ResolvedPlan, SavedPlanError> {
        self.check_plan_file()?;
        let reads = places
            .iter()
            .enumerate()
            .map(|(index, place)| self.recheck_target(index, place.control, place.reader));
        let mut now: HashMap<(usize, JobId), Result<Seen, ApiError>> = HashMap::new();
        for (index, read) in futures::future::join_all(reads)
            .await
            .into_iter()
            .enumerate()
        {
            now.extend(read.seen.into_iter().map(|(id, seen)| ((index, id), seen)));
        }
        let not_read = || "it was not read (interrupted)".to_owned();
        let targets: Vec<Target> = places.iter().map(|p| p.target.clone()).collect();
        let multi = targets.len() > 1 || targets.iter().any(|t| t.name.is_some());
        let shown = |index: usize| match targets.get(index) {
            Some(target) if multi => format!(" in {}", target.label()),
            _ => String::new(),
        };

        let mut moved = String::new();
        let mut count = 0;
        let mut converged = 0;
        let mut entries = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let mut jobs = Vec::with_capacity(entry.jobs.len());
            for job in &entry.jobs {
                let target = self.target_index(job.target.as_deref())?;
                match now.get(&(target, job.job_id.clone())) {
                    Some(Ok(seen)) => jobs.push(ResolvedJob {
                        target: crate::resolved::target_index(target),
                        id: job.job_id.clone(),
                        description: job.description.as_deref().map(Into::into),
                        status_seen: seen.status,
                        priority_seen: seen.priority,
                        progress_seen: seen.progress.into(),
                    }),
                    failed => {
                        let error = match failed {
                            Some(Err(error)) => error.to_string(),
                            _ => not_read(),
                        };
                        count += 1;
                        let _ = writeln!(
                            moved,
                            "  entry `{}`: job {}{} was {} and can no longer be read: {error}",
                            entry.name,
                            job.job_id,
                            shown(target),
                            job.status
                        );
                    }
                }
            }
            entries.push(entry.resolved(jobs, self.gate_target(entry)?));
        }
        let resolved = ResolvedPlan {
            targets: targets.clone(),
            settings,
            entries,
        };
        // The jobs other-job gates watch were read in the same sweeps: the forecast needs them too.
        let mut watched = Watched::new();
        for entry in &resolved.entries {
            if let Some(Gate {
                subject: GateSubject::OtherJob { target, job },
                ..
            }) = &entry.gate
            {
                let seen = match now.get(&(*target, job.clone())) {
                    Some(Ok(seen)) => Ok((seen.status, seen.progress)),
                    Some(Err(error)) => Err(error.to_string()),
                    None => Err(not_read()),
                };
                watched.insert((*target, job.clone()), seen);
            }
        }
        // Each job is judged alone (its decision key does not depend on the rest of the plan), so a saved
        // plan of 100,000 jobs is checked without a forecast of every job; the whole forecast is made only
        // when a job moved, to name its verdict and reason as `plan` would.
        let mut full: Option<forecast::Forecast> = None;
        for (index, (saved, entry)) in self.entries.iter().zip(&resolved.entries).enumerate() {
            let by_id: HashMap<(Option<&str>, &JobId), &SavedJob> = saved
                .jobs
                .iter()
                .map(|j| ((j.target.as_deref(), &j.job_id), j))
                .collect();
            for (at, placed) in entry.jobs.iter().enumerate() {
                let Some(then) = by_id.get(&(resolved_name(&targets, placed.target()), &placed.id))
                else {
                    continue;
                };
                let decision = forecast::judge_job(entry, placed, &watched).decision;
                if then.decision == decision {
                    continue;
                }
                // A job whose every action is now already done needs no call: it reached its target
                // (the earlier run of this saved plan, or someone else), which is what the review asked for,
                // so applying again converges like a rerun of the plan instead of refusing.
                if at_target(&decision) {
                    converged += 1;
                    continue;
                }
                count += 1;
                let judged = full.get_or_insert_with(|| forecast::forecast(&resolved, &watched));
                let Some(job) = judged.entries.get(index).and_then(|e| e.jobs.get(at)) else {
                    continue;
                };
                let _ = writeln!(
                    moved,
                    "  entry `{}`: job {}{} was {} ({}), now {} ({}{})",
                    saved.name,
                    job.job_id,
                    shown(placed.target()),
                    then.status,
                    then.verdict.label(),
                    job.status,
                    job.verdict.label(),
                    job.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default(),
                );
            }
        }
        if converged > 0 {
            crate::note!(
                "{} already at {} target since the review; {} no call (a rerun converges)",
                crate::text::plural(converged, "job"),
                if converged == 1 { "its" } else { "their" },
                if converged == 1 {
                    "it gets"
                } else {
                    "they get"
                },
            );
        }
        if count > 0 {
            return Err(SavedPlanError::Moved {
                count,
                list: moved.trim_end().to_owned(),
            });
        }
        Ok(resolved)
    }
}

/// The name of the target at `index` among `targets`.
fn resolved_name(targets: &[Target], index: usize) -> Option<&str> {
    targets.get(index).and_then(|t| t.name.as_deref())
}

impl SavedPlan {
    /// Reads again, in one sweep ([`reread`]), every saved job of the target at `index` and the jobs its
    /// gates watch in that target.
    async fn recheck_target<C: JobControl>(
        &self,
        index: usize,
        control: &C,
        caller: &Caller,
    ) -> Sweep {
        let in_target =
            |name: &Option<String>| self.target_index(name.as_deref()).ok() == Some(index);
        let jobs: Vec<&SavedJob> = self
            .entries
            .iter()
            .flat_map(|e| &e.jobs)
            .filter(|j| in_target(&j.target))
            .collect();
        let subjects: Vec<JobId> = self
            .entries
            .iter()
            .filter_map(|e| e.gate.as_ref())
            .filter(|g| in_target(&g.target))
            .filter_map(|g| g.job_id.clone())
            .collect();
        let read = reread(control, caller, &jobs, &subjects).await;
        tracing::info!(
            target = index,
            jobs = jobs.len(),
            reads = read.reads,
            list_pages = read.pages,
            "read the saved jobs again"
        );
        read
    }

    /// The index of the target of the job `entry`'s gate watches (0 when it watches its own jobs).
    fn gate_target(&self, entry: &SavedEntry) -> Result<usize, SavedPlanError> {
        match &entry.gate {
            Some(gate) if gate.job_id.is_some() => self.target_index(gate.target.as_deref()),
            _ => Ok(0),
        }
    }
}

impl SavedPlan {
    /// The plan and its judgment as they were at review time, read from the file alone (no call): what
    /// `s3plan plan SAVED.json` renders. Each job is judged again from its saved status by the same
    /// decision; a gate's watched job outside the saved plan was not recorded, so the saved verdict is kept
    /// for the jobs that depend on it.
    pub fn reviewed(&self) -> Result<(ResolvedPlan, Forecast), SavedPlanError> {
        let mut entries = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let jobs = entry
                .jobs
                .iter()
                .map(|job| {
                    Ok(ResolvedJob {
                        target: crate::resolved::target_index(
                            self.target_index(job.target.as_deref())?,
                        ),
                        id: job.job_id.clone(),
                        description: job.description.as_deref().map(Into::into),
                        status_seen: job.status,
                        priority_seen: job.priority,
                        progress_seen: job.progress.unwrap_or_default().into(),
                    })
                })
                .collect::<Result<Vec<_>, SavedPlanError>>()?;
            entries.push(entry.resolved(jobs, self.gate_target(entry)?));
        }
        let resolved = ResolvedPlan {
            targets: self.run_targets()?,
            settings: self.run_settings(crate::resolved::RunMode::DryRun),
            entries,
        };
        let mut seen: HashMap<(usize, &JobId), &SavedJob> = HashMap::new();
        for job in self.entries.iter().flat_map(|e| &e.jobs) {
            seen.insert(
                (self.target_index(job.target.as_deref())?, &job.job_id),
                job,
            );
        }
        let watched: Watched = resolved
            .entries
            .iter()
            .filter_map(|entry| match &entry.gate {
                Some(Gate {
                    subject: GateSubject::OtherJob { target, job },
                    ..
                }) => Some((*target, job)),
                _ => None,
            })
            .map(|(target, job)| {
                let status = seen.get(&(target, job)).map_or_else(
                    || Err("its status at review time is not in the saved plan".to_owned()),
                    |saved| Ok((saved.status, saved.progress.unwrap_or_default())),
                );
                ((target, job.clone()), status)
            })
            .collect();
        let mut judged = forecast::forecast(&resolved, &watched);
        let mut totals = forecast::Totals::default();
        for (saved, entry) in self.entries.iter().zip(&mut judged.entries) {
            entry.counts.clear();
            for (then, job) in saved.jobs.iter().zip(&mut entry.jobs) {
                if job.verdict != then.verdict {
                    job.verdict = then.verdict;
                    job.reason = Some(format!("{} at review time", then.verdict.label()));
                }
                *entry.counts.entry(job.verdict).or_default() += 1;
                *totals.verdicts.entry(job.verdict).or_default() += 1;
                totals.jobs += 1;
                if job.verdict == Verdict::Change {
                    totals.status_calls += usize::from(job.status_change.is_some());
                    totals.priority_calls += usize::from(job.priority_change.is_some());
                }
            }
        }
        judged.totals = totals;
        Ok((resolved, judged))
    }
}

/// Reads the saved `jobs` of one target again, with `also` (other jobs of that target to read now, such as
/// the jobs its gates watch), in one sweep: ListJobs pages filtered to the statuses the jobs had at review
/// time plus every non-terminal status, then one DescribeJob for each job the listing did not show (it moved
/// to a status outside the filter, or is gone: the DescribeJob answer says which). N jobs cost ceil(N / 1,000)
/// pages when the listing holds little else, plus one read per job not listed; a listing much longer than the
/// jobs is cut short and a single job is described, so it costs at most about twice a DescribeJob per job.
/// Every job of `jobs` and `also` is in the answer: as seen, or the error of its DescribeJob.
pub(crate) async fn reread<C: JobControl>(
    control: &C,
    caller: &Caller,
    jobs: &[&SavedJob],
    also: &[JobId],
) -> Sweep {
    let mut expected: Vec<JobStatus> = jobs.iter().map(|j| j.status).collect();
    expected.sort();
    expected.dedup();
    let wanted: Vec<JobId> = jobs
        .iter()
        .map(|j| j.job_id.clone())
        .chain(also.iter().cloned())
        .collect();
    sweep(control, caller, &wanted, &expected, Pages::Unknown).await
}

impl SavedEntry {
    /// The entry to run or render, with `jobs` as they are seen; a gate on another job watches it in the
    /// target at `gate_target`.
    fn resolved(&self, jobs: Vec<ResolvedJob>, gate_target: usize) -> ResolvedEntry {
        ResolvedEntry {
            name: self.name.clone(),
            after: self.after.clone(),
            jobs,
            gate: self.gate.as_ref().map(|gate| Gate {
                subject: gate.job_id.clone().map_or(GateSubject::OwnStatus, |job| {
                    GateSubject::OtherJob {
                        target: gate_target,
                        job,
                    }
                }),
                statuses: gate.statuses.clone(),
                timeout: Duration::from_millis(gate.timeout_ms),
                tasks: gate.tasks,
            }),
            actions: self.actions.clone(),
            reason: self.reason.clone(),
        }
    }
}

/// Whether every action of a job is already done now (no gate left to wait for, no call to send).
fn at_target(decision: &DecisionKey) -> bool {
    !decision.actions.is_empty()
        && decision
            .actions
            .iter()
            .all(|a| a.judgment == crate::decision::JudgmentKind::AlreadyDone)
}

fn default_max_age() -> Duration {
    DEFAULT_MAX_AGE
}

/// `max_age` as a human duration (`24h`, `90m`), so the file reads as the flag was written.
mod humantime_serde_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_yaml_and_json_without_the_marker_are_not_saved_plans() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("p.yaml");
        std::fs::write(&yaml, "version: 1\njobs: []\n").unwrap();
        assert!(detect(&yaml).unwrap().is_none());
        let json = dir.path().join("p.json");
        std::fs::write(&json, r#"{"version": 1}"#).unwrap();
        assert!(detect(&json).unwrap().is_none());
    }

    /// The smallest format 2 document: no `max_age`.
    const FORMAT_2: &str = r#"{"s3plan_saved_plan": 2, "s3plan_version": "0.1.0",
        "created_at": "2026-01-01T00:00:00Z",
        "plan": {"path": "/nowhere/plan.yaml", "sha256": "00"},
        "account_id": "111122223333", "region": "us-east-1", "endpoint": null,
        "settings": {"concurrency": 1, "rate_limit": 1.0, "poll_rate_limit": 1.0, "poll_interval_ms": 1000},
        "entries": []}"#;

    fn format_2() -> SavedPlan {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("p.json");
        std::fs::write(&json, FORMAT_2).unwrap();
        detect(&json).unwrap().unwrap()
    }

    #[test]
    fn a_format_2_saved_plan_gets_the_default_max_age() {
        assert_eq!(format_2().max_age, DEFAULT_MAX_AGE);
    }

    #[test]
    fn a_saved_plan_expires_just_after_its_max_age() {
        let saved = format_2();
        let path = Path::new("p.json");
        let at = |secs: i64| saved.created_at + jiff::SignedDuration::from_secs(secs);
        assert!(saved.check_age(path, at(24 * 3600)).is_ok());
        let Err(SavedPlanError::Expired { age, max_age, .. }) =
            saved.check_age(path, at(24 * 3600 + 1))
        else {
            panic!("expected an expiry");
        };
        assert_eq!((age.as_str(), max_age.as_str()), ("1day 1s", "1day"));
        // Written "in the future" (a clock set back): not expired, the recheck still guards it.
        assert!(saved.check_age(path, at(-3600)).is_ok());
    }

    #[test]
    fn max_age_round_trips_as_a_human_duration() {
        let mut saved = format_2();
        saved.max_age = Duration::from_secs(90 * 60);
        let text = serde_json::to_string(&saved).unwrap();
        assert!(text.contains(r#""max_age":"1h 30m""#), "{text}");
        let back: SavedPlan = serde_json::from_str(&text).unwrap();
        assert_eq!(back, saved);
    }

    #[test]
    fn only_a_job_with_every_action_already_done_is_at_its_target() {
        use crate::decision::JudgmentKind;
        use crate::forecast::{ActionDecision, GateDecision};
        let key = |judgments: &[JudgmentKind]| DecisionKey {
            gate: GateDecision::None,
            actions: judgments
                .iter()
                .map(|judgment| ActionDecision {
                    action: Action::SetPriority(1),
                    judgment: *judgment,
                })
                .collect(),
        };
        assert!(at_target(&key(&[JudgmentKind::AlreadyDone])));
        assert!(at_target(&key(&[
            JudgmentKind::AlreadyDone,
            JudgmentKind::AlreadyDone
        ])));
        assert!(!at_target(&key(&[
            JudgmentKind::AlreadyDone,
            JudgmentKind::Call
        ])));
        assert!(!at_target(&key(&[JudgmentKind::Moot])));
        assert!(!at_target(&key(&[JudgmentKind::Refused])));
        assert!(!at_target(&key(&[])));
    }

    /// A saved plan cancelling `jobs` of `fake` as they are now, with an other-job gate on `watched`.
    fn saved_over(
        fake: &crate::api::fake::FakeJobControl,
        jobs: &[JobId],
        watched: &JobId,
    ) -> SavedPlan {
        let target = Target {
            name: None,
            account_id: AccountId::parse("111122223333").unwrap(),
            region: "us-east-1".to_owned(),
            endpoint: None,
        };
        let resolved = ResolvedPlan {
            targets: vec![target],
            settings: settings(),
            entries: vec![ResolvedEntry {
                name: "cancel".to_owned(),
                after: Vec::new(),
                jobs: jobs
                    .iter()
                    .map(|id| ResolvedJob {
                        target: 0,
                        id: id.clone(),
                        description: None,
                        status_seen: fake.status(id).unwrap(),
                        priority_seen: 0,
                        progress_seen: Default::default(),
                    })
                    .collect(),
                gate: Some(Gate {
                    subject: GateSubject::OtherJob {
                        target: 0,
                        job: watched.clone(),
                    },
                    statuses: vec![JobStatus::Active],
                    timeout: Duration::from_secs(60),
                    tasks: None,
                }),
                actions: vec![Action::SetStatus(crate::api::TargetStatus::Cancelled)],
                reason: None,
            }],
        };
        let watched: Watched = [(
            (0, watched.clone()),
            Ok((fake.status(watched).unwrap(), Progress::default())),
        )]
        .into();
        let judged = forecast::forecast(&resolved, &watched);
        SavedPlan::new(
            PathBuf::from("/nowhere/plan.yaml"),
            "00".to_owned(),
            DEFAULT_MAX_AGE,
            &resolved,
            &judged,
            &[SavedCredentials::Chain],
        )
    }

    fn settings() -> RunSettings {
        RunSettings {
            concurrency: 8,
            rate_limit: 100.0,
            poll_rate_limit: 100.0,
            poll_interval: Duration::from_secs(1),
            mode: crate::resolved::RunMode::Apply,
        }
    }

    fn caller() -> Caller {
        Caller {
            limiter: std::sync::Arc::new(crate::exec::limiter::Limiter::new(100.0, 100.0, 8)),
            emitter: crate::exec::emitter::Emitter::detached(),
            policy: crate::exec::retry::RetryPolicy::default(),
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_recheck_reads_by_sweep_within_a_page_per_thousand_jobs_plus_the_unlisted() {
        use crate::api::ApiCall;
        let fake = crate::api::fake::FakeJobControl::new();
        let mut jobs: Vec<JobId> = (0..2500)
            .map(|i| fake.add_job(&format!("job-{i:05}"), JobStatus::Suspended))
            .collect();
        // A job already cancelled at review time (its terminal status joins the filter), and the gate's job.
        jobs.push(fake.add_job("job-cancelled", JobStatus::Cancelled));
        let watched = fake.add_job("job-watched", JobStatus::Active);
        let saved = saved_over(&fake, &jobs, &watched);
        let target = saved.reviewed().unwrap().0.targets[0].clone();

        let reader = caller();
        let place = |target| Place {
            control: &fake,
            reader: &reader,
            target,
        };
        let resolved = saved.recheck(&[place(&target)], settings()).await.unwrap();
        assert_eq!(resolved.entries[0].jobs.len(), 2501);
        // ceil(2,502 / 1,000) = 3 pages and nothing left unlisted: no DescribeJob, not 2,502.
        assert_eq!(fake.calls(ApiCall::ListJobs), 3);
        assert_eq!(fake.calls(ApiCall::DescribeJob), 0);

        // Jobs moved since the review: one finished on its own (Complete is outside the filter), one is gone
        // from the account. Each costs one DescribeJob, and the re-check still refuses with today's words.
        let finished = &jobs[7];
        fake.schedule_status(finished, Duration::ZERO, JobStatus::Complete);
        let gone = JobId::parse("job-deleted").unwrap();
        let mut with_gone = saved.clone();
        with_gone.entries[0].jobs[0].job_id = gone.clone();
        let refused = with_gone
            .recheck(&[place(&target)], settings())
            .await
            .unwrap_err();
        assert_eq!(fake.calls(ApiCall::ListJobs), 6);
        assert_eq!(fake.calls(ApiCall::DescribeJob), 2);
        assert_eq!(fake.job_calls(finished, ApiCall::DescribeJob), 1);
        assert_eq!(fake.job_calls(&gone, ApiCall::DescribeJob), 1);
        let SavedPlanError::Moved { count, list } = refused else {
            panic!("expected a refusal, got {refused:?}");
        };
        assert_eq!(count, 2, "{list}");
        assert!(
            list.contains(&format!(
                "job {finished} was Suspended (will change), now Complete ("
            )),
            "{list}"
        );
        assert!(
            list.contains(
                "job job-deleted was Suspended and can no longer be read: DescribeJob failed: NotFoundException"
            ),
            "{list}"
        );
    }

    #[test]
    fn an_unknown_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("p.json");
        std::fs::write(&json, r#"{"s3plan_saved_plan": 9}"#).unwrap();
        assert!(matches!(
            detect(&json),
            Err(SavedPlanError::Version { found: 9, .. })
        ));
    }

    #[test]
    fn a_format_2_or_3_saved_plan_reads_as_one_unnamed_target() {
        let saved = format_2();
        assert_eq!(
            saved.targets,
            [SavedTarget {
                name: None,
                account_id: "111122223333".to_owned(),
                region: "us-east-1".to_owned(),
                endpoint: None,
                credentials: SavedCredentials::Chain,
            }]
        );
        assert_eq!(
            saved.account_id, None,
            "the old fields are folded into targets"
        );
        let targets = saved.run_targets().unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].name, None);
    }

    /// A format 4 document over two targets, with one job in each (the same id) and a gate on one of them.
    fn format_4(gate_target: &str) -> String {
        let job = |target: &str| {
            format!(
                r#"{{"target": "{target}", "job_id": "job-1", "description": null, "status": "Suspended",
                "priority": 1, "progress": null, "verdict": "change",
                "decision": {{"gate": "none", "actions": []}}}}"#
            )
        };
        format!(
            r#"{{"s3plan_saved_plan": 4, "s3plan_version": "0.1.0", "created_at": "2026-01-01T00:00:00Z",
            "max_age": "1day", "plan": {{"path": "/nowhere/plan.yaml", "sha256": "00"}},
            "targets": [
              {{"name": "prod-us", "account_id": "111122223333", "region": "us-east-1", "endpoint": null, "credentials": "chain"}},
              {{"name": "dr", "account_id": "444455556666", "region": "us-west-2", "endpoint": null,
                "credentials": {{"role_arn": "arn:aws:iam::444455556666:role/s3plan"}}}}],
            "settings": {{"concurrency": 1, "rate_limit": 1.0, "poll_rate_limit": 1.0, "poll_interval_ms": 1000}},
            "entries": [{{"name": "e", "after": [], "actions": [{{"set_status": "Cancelled"}}], "reason": null,
              "gate": {{"job_id": "job-1", "target": "{gate_target}", "statuses": ["Suspended"], "timeout_ms": 1000}},
              "jobs": [{}, {}]}}]}}"#,
            job("prod-us"),
            job("dr")
        )
    }

    fn detect_text(text: &str) -> Result<Option<SavedPlan>, SavedPlanError> {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("p.json");
        std::fs::write(&json, text).unwrap();
        detect(&json)
    }

    #[test]
    fn a_format_4_saved_plan_places_each_job_and_gate_in_its_target() {
        let saved = detect_text(&format_4("dr")).unwrap().unwrap();
        assert_eq!(
            saved.targets[1].credentials,
            SavedCredentials::RoleArn("arn:aws:iam::444455556666:role/s3plan".to_owned())
        );
        let (resolved, _) = saved.reviewed().unwrap();
        let names: Vec<String> = resolved.targets.iter().map(Target::label).collect();
        assert_eq!(names, ["prod-us", "dr"]);
        let jobs: Vec<(usize, &str)> = resolved.entries[0]
            .jobs
            .iter()
            .map(|j| (j.target(), j.id.as_str()))
            .collect();
        assert_eq!(jobs, [(0, "job-1"), (1, "job-1")]);
        assert!(matches!(
            &resolved.entries[0].gate,
            Some(Gate {
                subject: GateSubject::OtherJob { target: 1, .. },
                ..
            })
        ));
        // Written back, it reads the same.
        let text = serde_json::to_string(&saved).unwrap();
        assert_eq!(detect_text(&text).unwrap().unwrap(), saved);
    }

    #[test]
    fn a_job_or_gate_of_an_unlisted_target_is_refused() {
        let Err(SavedPlanError::Field { field, problem }) = detect_text(&format_4("prod-eu"))
        else {
            panic!("expected a refusal");
        };
        assert_eq!(field, "target");
        assert!(problem.contains("prod-eu"), "{problem}");
    }
}
