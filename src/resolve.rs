//! Resolution: turns a validated plan into concrete jobs, through `JobControl`, before anything changes.
//!
//! Owns the second stage of the two-stage plan: explicit ids are described (so the report knows each job's
//! status before the run), selectors are resolved once through paginated ListJobs (server-side status
//! filter, then the description/time/operation/priority filters here, then GetJobTagging only for the jobs
//! that passed every other filter), `max_jobs` is enforced, and the same job aimed at two different targets
//! or two different priorities is refused. Refusals are gathered over the whole plan (every missing job,
//! every selector over its `max_jobs`, every conflict) and returned together. Reads take read permits from
//! the run's `Limiter` and retry transient failures, like every other call. Does not apply flags or defaults to settings (the command does) and never mutates a job.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::api::{
    Answer, ApiCall, ApiError, ApiErrorKind, JobControl, JobId, JobStatus, JobSummary, TargetStatus,
};
use crate::exec::retry::Caller;
use crate::matched::MatchSample;
use crate::plan::model::{DescriptionPattern, Entry, JobSet, OperationName, Plan, Selector};
use crate::report::summary::hint;
use crate::resolved::{
    Action, Gate, GateSubject, ResolvedEntry, ResolvedJob, ResolvedPlan, RunSettings, Target,
};

/// ListJobs page size: the API's maximum, so a selector over N jobs costs about N / 1000 calls.
pub const LIST_PAGE_SIZE: i32 = 1000;

/// The most resolved jobs of one entry room is set aside for before listing (4 Mi jobs, about 400 MiB of
/// address space, untouched until written); a larger `max_jobs` grows the list as it fills beyond that.
const MAX_ROOM: usize = 1 << 22;

/// Reads in flight at once while resolving (each still takes a read permit).
const RESOLVE_READ_CONCURRENCY: usize = 16;

/// Why a plan could not be resolved. Nothing was changed when this is returned.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ResolveError {
    /// A job named by id does not exist in this account and region.
    #[error("entry `{entry}`: job {job} was not found in account {account} ({region})")]
    #[diagnostic(
        code(s3plan::resolve::job_not_found),
        help(
            "check the job id, and that --account-id and --region name the account and region the job runs in"
        )
    )]
    JobNotFound {
        /// The entry naming the job.
        entry: String,
        /// The job.
        job: JobId,
        /// The account searched.
        account: String,
        /// The region searched.
        region: String,
    },
    /// A selector matched more jobs than its entry allows.
    #[error(
        "entry `{entry}`: the selector matches {matched} jobs, more than max_jobs ({max_jobs}); nothing was changed"
    )]
    #[diagnostic(
        code(s3plan::resolve::too_many_jobs),
        help(
            "narrow the selector, or raise `max_jobs` for this entry if {matched} jobs is really what you mean\n{matches}"
        )
    )]
    TooManyJobs {
        /// The entry.
        entry: String,
        /// Jobs the selector matched.
        matched: usize,
        /// The entry's limit.
        max_jobs: u32,
        /// The first matches and how they break down, so the operator sees what to narrow.
        matches: Box<MatchSample>,
    },
    /// Two entries ask for different statuses of the same job.
    #[error(
        "job {job} is asked to become {first_target} by entry `{first}` and {second_target} by entry `{second}`"
    )]
    #[diagnostic(
        code(s3plan::resolve::conflicting_targets),
        help(
            "a selector probably matches a job another entry names; narrow one of the two entries"
        )
    )]
    ConflictingTargets {
        /// The job.
        job: JobId,
        /// The first entry.
        first: String,
        /// Its target.
        first_target: TargetStatus,
        /// The second entry.
        second: String,
        /// Its target.
        second_target: TargetStatus,
    },
    /// Two entries ask for different priorities of the same job: whichever call went last would win.
    #[error(
        "job {job} is asked for priority {first_priority} by entry `{first}` and {second_priority} by entry `{second}`"
    )]
    #[diagnostic(
        code(s3plan::resolve::conflicting_priorities),
        help(
            "a selector probably matches a job another entry names; narrow one of the two entries, or give both the same priority"
        )
    )]
    ConflictingPriorities {
        /// The job.
        job: JobId,
        /// The first entry.
        first: String,
        /// Its priority.
        first_priority: i32,
        /// The second entry.
        second: String,
        /// Its priority.
        second_priority: i32,
    },
    /// More than one of the refusals above: every one is named, so one run shows everything to fix.
    #[error("the plan cannot run as written: {} problems; nothing was changed", problems.len())]
    #[diagnostic(code(s3plan::resolve::refused))]
    Refused {
        /// Each problem (missing jobs, selectors over `max_jobs`, conflicting entries), in plan order.
        #[related]
        problems: Vec<ResolveError>,
    },
    /// A read failed for good while resolving.
    #[error(
        "entry `{entry}`: {error}{}",
        job.as_ref().map(|job| format!(" (job {job})")).unwrap_or_default()
    )]
    #[diagnostic(code(s3plan::resolve::api))]
    Api {
        /// The entry being resolved.
        entry: String,
        /// The job the call was about, if any.
        job: Option<JobId>,
        /// The failure.
        error: Box<ApiError>,
        /// What to do about it.
        #[help]
        hint: String,
    },
    /// The run was interrupted while resolving.
    #[error("interrupted while resolving the plan; nothing was changed")]
    #[diagnostic(code(s3plan::resolve::interrupted))]
    Interrupted,
    /// An `after` names an entry the plan does not have (validation prevents this).
    #[error("entry `{entry}` runs after `{missing}`, which is not an entry of the plan")]
    #[diagnostic(code(s3plan::resolve::internal))]
    UnknownDependency {
        /// The entry.
        entry: String,
        /// The unknown name.
        missing: String,
    },
}

/// A read while resolving, through the one attempt path every request takes (`Caller::call`: a limiter
/// permit on the read lane, retries within the retry budget, attempt and throttle events when a run listens).
pub(crate) trait Read {
    async fn read<T, F, Fut>(&self, call: ApiCall, send: F) -> Result<Answer<T>, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Answer<T>, ApiError>>;
}

impl Read for Caller {
    async fn read<T, F, Fut>(&self, call: ApiCall, mut send: F) -> Result<Answer<T>, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Answer<T>, ApiError>>,
    {
        self.call(call, None, |_| send()).await.result
    }
}

/// Reads in flight while resolving one entry: how many of its targets are read at once (each target's reads
/// still go through that target's own read limit).
const RESOLVE_TARGET_CONCURRENCY: usize = 64;

/// One target as the resolver reads it: its job API, its read limit, and where it is.
pub struct Place<'a, C> {
    /// The target's job API.
    pub control: &'a C,
    /// Reads under the target's read limit.
    pub reader: &'a Caller,
    /// Account, region, endpoint and name.
    pub target: &'a Target,
}

impl<C> Clone for Place<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Place<'_, C> {}

/// Where each entry of a plan runs: indexes into the plan's targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Per entry (plan order), the targets it runs in.
    pub entries: Vec<Vec<usize>>,
    /// Per entry, the target of the job its gate watches, for a gate on another job.
    pub gates: Vec<Option<usize>>,
}

impl Scope {
    /// Every entry in the one target of a plan without `targets:`.
    pub fn single(plan: &Plan) -> Self {
        let entries = plan.entries().count();
        Self {
            entries: vec![vec![0]; entries],
            gates: vec![Some(0); entries],
        }
    }
}

/// Resolves every entry of `plan` into concrete jobs in the targets `scope` gives it, reading each target
/// through its `places` entry (same order as the resolved plan's targets); `settings` already decided.
/// An entry's targets are read in parallel; `max_jobs` counts its matches across all of them.
pub async fn resolve<C: JobControl>(
    plan: &Plan,
    places: &[Place<'_, C>],
    scope: &Scope,
    settings: RunSettings,
) -> Result<ResolvedPlan, ResolveError> {
    let names: HashMap<&str, usize> = plan
        .entries()
        .enumerate()
        .map(|(index, entry)| (entry.name(), index))
        .collect();
    let mut entries = Vec::new();
    // Refusals (a missing job, a selector over max_jobs, a conflict) are gathered so the operator sees all of
    // them at once; a failed read or an interruption still stops resolution at once.
    let mut problems = Vec::new();
    for (index, entry) in plan.entries().enumerate() {
        let after = entry
            .after()
            .map(|name| {
                names
                    .get(name)
                    .copied()
                    .ok_or_else(|| ResolveError::UnknownDependency {
                        entry: entry.name().to_owned(),
                        missing: name.to_owned(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let in_targets = scope.entries.get(index).map_or(&[][..], Vec::as_slice);
        let per_target: Vec<Result<InTarget, ResolveError>> = stream::iter(
            in_targets
                .iter()
                .filter_map(|&t| places.get(t).map(|p| (t, *p))),
        )
        .map(|(t, place)| resolve_jobs(entry, t, place, in_targets.len() == 1))
        .buffered(RESOLVE_TARGET_CONCURRENCY)
        .collect()
        .await;
        let mut jobs = Vec::new();
        for found in per_target {
            let (found, missing) = found?;
            // The first target's jobs are taken as they are rather than copied into a new list.
            if jobs.is_empty() {
                jobs = found;
            } else {
                jobs.extend(found);
            }
            problems.extend(missing);
        }
        if let Some(JobSet::Select(_)) = entry.job_set() {
            let max_jobs = entry.max_jobs();
            if jobs.len() > max_jobs as usize {
                problems.push(ResolveError::TooManyJobs {
                    entry: entry.name().to_owned(),
                    matched: jobs.len(),
                    max_jobs,
                    matches: Box::new(MatchSample::of(&jobs)),
                });
            }
        }
        let gate = match entry.gate(plan) {
            Some(spec) => {
                let subject = match spec.job {
                    Some(other) => {
                        let target = scope.gates.get(index).copied().flatten().unwrap_or(0);
                        if let Some(place) = places.get(target) {
                            match describe(entry, &other, target, *place).await {
                                Ok(_) => {}
                                Err(missing @ ResolveError::JobNotFound { .. }) => {
                                    problems.push(missing)
                                }
                                Err(error) => return Err(error),
                            }
                        }
                        GateSubject::OtherJob { target, job: other }
                    }
                    None => GateSubject::OwnStatus,
                };
                Some(Gate {
                    subject,
                    statuses: spec.statuses,
                    timeout: spec.timeout,
                    tasks: spec.tasks,
                })
            }
            None => None,
        };
        entries.push(ResolvedEntry {
            name: entry.name().to_owned(),
            after,
            jobs,
            gate,
            actions: Action::from_parts(entry.target(), entry.priority()),
            reason: entry.reason(plan).map(str::to_owned),
        });
    }
    problems.extend(conflicting_targets(&entries));
    problems.extend(conflicting_priorities(&entries));
    if problems.len() > 1 {
        return Err(ResolveError::Refused { problems });
    }
    if let Some(problem) = problems.pop() {
        return Err(problem);
    }
    Ok(ResolvedPlan {
        targets: places.iter().map(|p| p.target.clone()).collect(),
        settings,
        entries,
    })
}

/// An entry's jobs found in one target, and the refusals of the jobs it names that are missing there.
type InTarget = (Vec<ResolvedJob>, Vec<ResolveError>);

/// An entry's jobs in one target, with the jobs it names that are missing there.
async fn resolve_jobs<C: JobControl>(
    entry: &Entry,
    target: usize,
    place: Place<'_, C>,
    only_target: bool,
) -> Result<InTarget, ResolveError> {
    let mut problems = Vec::new();
    match entry.job_set() {
        Some(JobSet::Ids(ids)) => {
            let mut unique = Vec::with_capacity(ids.len());
            for id in ids {
                if !unique.contains(&id) {
                    unique.push(id);
                }
            }
            let described: Vec<Result<ResolvedJob, ResolveError>> = stream::iter(unique)
                .map(|id| describe(entry, id, target, place))
                .buffered(RESOLVE_READ_CONCURRENCY)
                .collect()
                .await;
            let mut jobs = Vec::with_capacity(described.len());
            for job in described {
                match job {
                    Ok(job) => jobs.push(job),
                    Err(missing @ ResolveError::JobNotFound { .. }) => problems.push(missing),
                    Err(error) => return Err(error),
                }
            }
            Ok((jobs, problems))
        }
        Some(JobSet::Select(selector)) => {
            // An entry in one target may keep up to `max_jobs` (one more shows it went over): room for
            // them is set aside at once. The system hands out memory as it is written, so untouched room
            // costs nothing, and the list never copies itself while growing (a copy holds the old and the
            // new storage at once: half again a million jobs' worth at its last growth).
            let room = if only_target {
                (entry.max_jobs() as usize).saturating_add(1).min(MAX_ROOM)
            } else {
                0
            };
            let jobs = select(entry, selector, target, place, room).await?;
            Ok((jobs, problems))
        }
        // Validation refuses an entry without jobs; resolving it to none keeps this total.
        None => Ok((Vec::new(), problems)),
    }
}

async fn describe<C: JobControl>(
    entry: &Entry,
    id: &JobId,
    index: usize,
    place: Place<'_, C>,
) -> Result<ResolvedJob, ResolveError> {
    let Place {
        control,
        reader,
        target,
    } = place;
    match reader
        .read(ApiCall::DescribeJob, || control.describe_job(id))
        .await
    {
        Ok(answer) => Ok(resolved_job(answer.value.summary, index)),
        Err(error) if error.kind == ApiErrorKind::NotFound => Err(ResolveError::JobNotFound {
            entry: entry.name().to_owned(),
            job: id.clone(),
            account: target.account_id.to_string(),
            region: target.region.clone(),
        }),
        Err(error) => Err(api_error(entry, Some(id), error, reader)),
    }
}

async fn select<C: JobControl>(
    entry: &Entry,
    selector: &Selector,
    index: usize,
    place: Place<'_, C>,
    room: usize,
) -> Result<Vec<ResolvedJob>, ResolveError> {
    let Place {
        control, reader, ..
    } = place;
    // Each listed job is kept as the resolved job it becomes, not as its whole listing: a selector over a
    // million jobs then holds one compact record per match while the pages stream in.
    let listed = list_filtered_as(selector, control, reader, room, |job| {
        resolved_job(job, index)
    })
    .await
    .map_err(|error| api_error(entry, None, error, reader))?;
    keep_tagged(selector, listed, control, reader)
        .await
        .map_err(|(job, error)| api_error(entry, Some(&job), error, reader))
}

/// What the listing helpers need of a kept job: its id.
pub(crate) trait Listed {
    /// The job's id.
    fn job_id(&self) -> &JobId;
}

impl Listed for JobSummary {
    fn job_id(&self) -> &JobId {
        &self.id
    }
}

impl Listed for ResolvedJob {
    fn job_id(&self) -> &JobId {
        &self.id
    }
}

/// The filters of a selector that ListJobs answers carry (all but tags), compiled once per sweep.
struct Filters {
    description: Option<DescriptionPattern>,
    operations: Vec<OperationName>,
    priority: Option<RangeInclusive<i32>>,
    created_after: Option<jiff::Timestamp>,
    created_before: Option<jiff::Timestamp>,
}

impl Filters {
    /// The filters of `selector`.
    fn of(selector: &Selector) -> Self {
        Self {
            description: selector.description(),
            operations: selector.operations(),
            priority: selector.priority_bounds(),
            created_after: selector.created_after.as_ref().map(|t| t.value),
            created_before: selector.created_before.as_ref().map(|t| t.value),
        }
    }

    /// Whether `job` passes every one of them.
    fn pass(&self, job: &JobSummary) -> bool {
        self.description.as_ref().is_none_or(|pattern| {
            job.description
                .as_deref()
                .is_some_and(|text| pattern.is_match(text))
        }) && (self.operations.is_empty()
            || job
                .operation
                .as_deref()
                .is_some_and(|op| self.operations.iter().any(|want| want.as_str() == op)))
            && self
                .priority
                .as_ref()
                .is_none_or(|range| range.contains(&job.priority))
            && self
                .created_after
                .is_none_or(|after| job.creation_time.is_some_and(|t| t >= after))
            && self
                .created_before
                .is_none_or(|before| job.creation_time.is_some_and(|t| t < before))
    }
}

/// One paginated ListJobs sweep (server-side status filter) keeping the jobs that pass every other filter
/// of `selector` but tags, in ListJobs order, each once.
pub(crate) async fn list_filtered<C: JobControl>(
    selector: &Selector,
    control: &C,
    reader: &Caller,
) -> Result<Vec<JobSummary>, ApiError> {
    list_filtered_as(selector, control, reader, 0, |job| job).await
}

/// [`list_filtered`], each kept job turned by `keep` into what the caller holds as the pages arrive, with
/// room for `room` of them set aside up front (less if the system refuses that much).
pub(crate) async fn list_filtered_as<C: JobControl, T: Listed>(
    selector: &Selector,
    control: &C,
    reader: &Caller,
    room: usize,
    mut keep: impl FnMut(JobSummary) -> T,
) -> Result<Vec<T>, ApiError> {
    let statuses = selector.statuses();
    let filters = Filters::of(selector);
    let mut order = Vec::new();
    if order.try_reserve_exact(room).is_err() {
        tracing::debug!(room, "could not set aside room for the listed jobs");
    }
    let mut token: Option<String> = None;
    loop {
        let page = reader
            .read(ApiCall::ListJobs, || {
                control.list_jobs(&statuses, token.as_deref(), LIST_PAGE_SIZE)
            })
            .await?
            .value;
        order.extend(
            page.jobs
                .into_iter()
                .filter(|job| filters.pass(job))
                .map(&mut keep),
        );
        match page.next_token {
            Some(next) if !next.is_empty() && token.as_deref() != Some(next.as_str()) => {
                token = Some(next);
            }
            _ => break,
        }
    }
    keep_first_of_each(&mut order);
    Ok(order)
}

/// Drops every job of `jobs` whose id came earlier (a job listed on two pages), keeping the order of first
/// appearance. Sorting positions by id costs 4 bytes a job for a moment, where a set of ids held through
/// the whole sweep cost a copy of every id.
fn keep_first_of_each<T: Listed>(jobs: &mut Vec<T>) {
    // Positions as u32: a list of four billion jobs keeps its repeats rather than overflow.
    let Ok(len) = u32::try_from(jobs.len()) else {
        return;
    };
    let mut by_id: Vec<u32> = (0..len).collect();
    let id = |at: &u32| jobs[*at as usize].job_id();
    by_id.sort_unstable_by(|a, b| id(a).cmp(id(b)).then(a.cmp(b)));
    let mut repeated = vec![false; jobs.len()];
    let mut any = false;
    for pair in by_id.windows(2) {
        if let [first, then] = pair
            && id(first) == id(then)
        {
            repeated[*then as usize] = true;
            any = true;
        }
    }
    drop(by_id);
    if any {
        let mut at = 0;
        jobs.retain(|_| {
            at += 1;
            !repeated[at - 1]
        });
    }
}

/// Keeps the jobs of `jobs` that carry every tag `selector` asks for, reading GetJobTagging once per job
/// (none when the selector has no tag filter). A failed read names its job.
pub(crate) async fn keep_tagged<C: JobControl, T: Listed>(
    selector: &Selector,
    mut jobs: Vec<T>,
    control: &C,
    reader: &Caller,
) -> Result<Vec<T>, (JobId, ApiError)> {
    let tags = selector.tags();
    if tags.is_empty() {
        return Ok(jobs);
    }
    let matches: Vec<bool> = stream::iter(jobs.iter())
        .map(|job| async {
            let answer = reader
                .read(ApiCall::GetJobTagging, || {
                    control.get_job_tagging(job.job_id())
                })
                .await;
            match answer {
                Ok(answer) => Ok(tags.iter().all(|(key, value)| {
                    answer
                        .value
                        .iter()
                        .any(|tag| tag.key == *key && tag.value == *value)
                })),
                // A job that vanished between ListJobs and GetJobTagging matches nothing.
                Err(error) if error.kind == ApiErrorKind::NotFound => Ok(false),
                Err(error) => Err((job.job_id().clone(), error)),
            }
        })
        .buffered(RESOLVE_READ_CONCURRENCY)
        .try_collect()
        .await?;
    let mut keep = matches.into_iter();
    jobs.retain(|_| keep.next().unwrap_or(false));
    Ok(jobs)
}

fn resolved_job(job: JobSummary, target: usize) -> ResolvedJob {
    ResolvedJob {
        target: crate::resolved::target_index(target),
        id: job.id,
        description: job.description.map(String::into_boxed_str),
        status_seen: job.status,
        priority_seen: job.priority,
        progress_seen: job.progress.into(),
    }
}

fn api_error(entry: &Entry, job: Option<&JobId>, error: ApiError, reader: &Caller) -> ResolveError {
    if reader.cancel.is_cancelled() {
        return ResolveError::Interrupted;
    }
    ResolveError::Api {
        entry: entry.name().to_owned(),
        job: job.cloned(),
        hint: hint(error.kind, error.call).to_owned(),
        error: Box::new(error),
    }
}

/// Every job two entries ask to become different statuses, once per job.
fn conflicting_targets(entries: &[ResolvedEntry]) -> Vec<ResolveError> {
    conflicts(entries, |entry| entry.target())
        .into_iter()
        .map(|(job, (first, first_target), (second, second_target))| {
            ResolveError::ConflictingTargets {
                job,
                first,
                first_target,
                second,
                second_target,
            }
        })
        .collect()
}

/// Every job two entries ask for different priorities, once per job.
fn conflicting_priorities(entries: &[ResolvedEntry]) -> Vec<ResolveError> {
    conflicts(entries, |entry| entry.priority())
        .into_iter()
        .map(
            |(job, (first, first_priority), (second, second_priority))| {
                ResolveError::ConflictingPriorities {
                    job,
                    first,
                    first_priority,
                    second,
                    second_priority,
                }
            },
        )
        .collect()
}

/// A job, the first entry asking it for a value and the first entry asking another one.
type Conflict<T> = (JobId, (String, T), (String, T));

/// Jobs that two entries ask for different values of what `wanted` reads, in plan order, each job once.
fn conflicts<T: Copy + PartialEq>(
    entries: &[ResolvedEntry],
    wanted: impl Fn(&ResolvedEntry) -> Option<T>,
) -> Vec<Conflict<T>> {
    // One entry asking cannot conflict with itself: most plans stop here, before a map of every job.
    if entries
        .iter()
        .filter(|entry| wanted(entry).is_some())
        .count()
        < 2
    {
        return Vec::new();
    }
    // Keyed by target too: the same id in two accounts or regions is two jobs.
    let mut first_asked: HashMap<(usize, &JobId), (&str, T)> = HashMap::new();
    let mut reported = std::collections::HashSet::new();
    let mut found = Vec::new();
    for entry in entries {
        let Some(value) = wanted(entry) else { continue };
        for job in &entry.jobs {
            match first_asked.get(&(job.target(), &job.id)) {
                Some((first, first_value)) if *first_value != value => {
                    if reported.insert((job.target, &job.id)) {
                        found.push((
                            job.id.clone(),
                            ((*first).to_owned(), *first_value),
                            (entry.name.clone(), value),
                        ));
                    }
                }
                Some(_) => {}
                None => {
                    first_asked.insert((job.target(), &job.id), (&entry.name, value));
                }
            }
        }
    }
    found
}

/// Statuses a job of `jobs` had when resolved, counted (for the pre-run summary).
pub fn status_counts(jobs: &[ResolvedJob]) -> BTreeMap<JobStatus, usize> {
    let mut counts = BTreeMap::new();
    for job in jobs {
        *counts.entry(job.status_seen).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::*;

    fn listed(id: &str) -> JobSummary {
        JobSummary {
            id: JobId::parse(id).unwrap(),
            description: None,
            operation: None,
            priority: 0,
            status: JobStatus::Suspended,
            creation_time: None,
            termination_date: None,
            progress: crate::api::Progress::default(),
        }
    }

    #[test]
    fn a_job_listed_twice_is_kept_once_where_it_first_appeared() {
        let mut jobs: Vec<JobSummary> =
            ["b-0001", "a-0001", "b-0001", "c-0001", "a-0001", "b-0001"]
                .into_iter()
                .map(listed)
                .collect();
        keep_first_of_each(&mut jobs);
        let ids: Vec<&str> = jobs.iter().map(|job| job.id.as_str()).collect();
        assert_eq!(ids, ["b-0001", "a-0001", "c-0001"]);
        let mut none: Vec<JobSummary> = Vec::new();
        keep_first_of_each(&mut none);
        assert!(none.is_empty());
    }
    use crate::api::AccountId;
    use crate::api::fake::{FakeJobControl, Fault};
    use crate::exec::limiter::Limiter;
    use crate::exec::retry::RetryPolicy;
    use crate::plan;
    use crate::resolved::RunMode;

    /// 1,500 Suspended jobs `s-0001`..`s-1500` (descriptions `job s-0001`...) and 10 Active `act-01`..`act-10`.
    fn account() -> FakeJobControl {
        let fake = FakeJobControl::new();
        for n in 1..=1500 {
            fake.add_job(&format!("s-{n:04}"), JobStatus::Suspended);
        }
        for n in 1..=10 {
            fake.add_job(&format!("act-{n:02}"), JobStatus::Active);
        }
        fake
    }

    fn reader() -> Caller {
        Caller {
            limiter: Arc::new(Limiter::new(100.0, 100.0, 8)),
            emitter: crate::exec::emitter::Emitter::detached(),
            policy: RetryPolicy::default(),
            cancel: CancellationToken::new(),
        }
    }

    async fn resolve_text(
        fake: &FakeJobControl,
        entries: &str,
    ) -> Result<ResolvedPlan, ResolveError> {
        let text = format!("version: 1\njobs:\n{entries}");
        let loaded = plan::load_str("plan.yaml", &text).unwrap();
        let target = Target {
            name: None,
            account_id: AccountId::parse("111122223333").unwrap(),
            region: "us-east-1".to_owned(),
            endpoint: None,
        };
        let settings = RunSettings {
            concurrency: 8,
            rate_limit: 100.0,
            poll_rate_limit: 100.0,
            poll_interval: Duration::from_secs(1),
            mode: RunMode::DryRun,
        };
        let reader = reader();
        let places = [Place {
            control: fake,
            reader: &reader,
            target: &target,
        }];
        resolve(
            &loaded.plan,
            &places,
            &Scope::single(&loaded.plan),
            settings,
        )
        .await
    }

    fn ids(entry: &ResolvedEntry) -> Vec<&str> {
        entry.jobs.iter().map(|j| j.id.as_str()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn selectors_page_filter_and_read_tags_only_for_the_rest() {
        let fake = account();
        let resolved = resolve_text(
            &fake,
            r#"
  - name: early
    select: { status: [Suspended], description: "job s-00*" }
    set: Cancelled
"#,
        )
        .await
        .unwrap();
        let jobs = ids(&resolved.entries[0]);
        assert_eq!(jobs.len(), 99);
        assert!(jobs.iter().all(|id| id.starts_with("s-00")), "{jobs:?}");
        assert_eq!(
            fake.calls(ApiCall::ListJobs),
            2,
            "1,500 jobs in pages of 1,000"
        );
        assert_eq!(
            fake.calls(ApiCall::GetJobTagging),
            0,
            "no tag filter, no tag reads"
        );

        let fake = account();
        let resolved = resolve_text(
            &fake,
            r#"
  - name: tagged
    select: { status: [Suspended], description: "regex:^job s-01\\d\\d$", tags: { team: search } }
    set: Cancelled
"#,
        )
        .await
        .unwrap();
        // The fake's jobs carry no tags: the 100 candidates are read and none matches.
        assert!(resolved.entries[0].jobs.is_empty());
        assert_eq!(fake.calls(ApiCall::GetJobTagging), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn repeated_ids_are_described_once() {
        let fake = account();
        let resolved = resolve_text(
            &fake,
            r#"
  - name: twice
    job_ids: ["s-0001", "s-0002", "s-0001"]
    set: Ready
"#,
        )
        .await
        .unwrap();
        assert_eq!(ids(&resolved.entries[0]), ["s-0001", "s-0002"]);
        assert_eq!(fake.calls(ApiCall::DescribeJob), 2);
        assert_eq!(
            resolved.entries[0].jobs[0].status_seen,
            JobStatus::Suspended
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_selector_over_max_jobs_is_refused_with_its_count() {
        let fake = account();
        let error = resolve_text(
            &fake,
            r#"
  - name: too-many
    select: { status: [Suspended], description: "job s-00*" }
    max_jobs: 50
    set: Cancelled
"#,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                error,
                ResolveError::TooManyJobs {
                    matched: 99,
                    max_jobs: 50,
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(fake.mutations(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn one_job_asked_two_different_targets_is_refused() {
        let fake = account();
        let error = resolve_text(
            &fake,
            r#"
  - name: confirm
    job_id: "s-0005"
    set: Ready
  - name: cancel
    select: { status: [Suspended], description: "job s-000*" }
    set: Cancelled
"#,
        )
        .await
        .unwrap_err();
        match error {
            ResolveError::ConflictingTargets {
                job, first, second, ..
            } => {
                assert_eq!(job.as_str(), "s-0005");
                assert_eq!((first.as_str(), second.as_str()), ("confirm", "cancel"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_job_asked_two_different_priorities_is_refused() {
        let fake = account();
        let error = resolve_text(
            &fake,
            r#"
  - {name: low, job_id: "s-0005", priority: 10}
  - {name: high, select: {status: [Suspended], description: "job s-000*"}, priority: 90}
  - {name: same, job_id: "s-0006", priority: 90}
"#,
        )
        .await
        .unwrap_err();
        match error {
            ResolveError::ConflictingPriorities {
                job,
                first,
                first_priority,
                second,
                second_priority,
            } => {
                assert_eq!(job.as_str(), "s-0005");
                assert_eq!((first.as_str(), second.as_str()), ("low", "high"));
                assert_eq!((first_priority, second_priority), (10, 90));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_missing_job_and_every_selector_over_max_jobs_is_named_at_once() {
        let fake = account();
        let error = resolve_text(
            &fake,
            r#"
  - {name: ghosts, job_ids: ["nope-1", "s-0001", "nope-2"], set: Cancelled}
  - {name: wide, select: {status: [Suspended], description: "job s-00*"}, max_jobs: 5, set: Cancelled}
  - {name: ghost, job_id: "nope-3", set: Ready}
"#,
        )
        .await
        .unwrap_err();
        let ResolveError::Refused { problems } = error else {
            panic!("{error:?}");
        };
        let named: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(named.len(), 4, "{named:#?}");
        assert!(
            named[0].contains("nope-1") && named[1].contains("nope-2"),
            "{named:#?}"
        );
        assert!(
            named[2].contains("`wide`") && named[2].contains("99 jobs"),
            "{named:#?}"
        );
        assert!(named[3].contains("nope-3"), "{named:#?}");
        assert_eq!(fake.mutations(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_job_is_not_found_and_transient_reads_are_retried() {
        let fake = account();
        let error = resolve_text(&fake, "  - {name: ghost, job_id: \"nope-1\", set: Ready}\n")
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ResolveError::JobNotFound { job, entry, .. } if job.as_str() == "nope-1" && entry == "ghost"),
            "{error:?}"
        );

        let fake = account();
        fake.fail_next(ApiCall::ListJobs, 2, Fault::Throttle);
        let resolved = resolve_text(
            &fake,
            "  - {name: active, select: {status: [Active]}, set: Cancelled}\n",
        )
        .await
        .unwrap();
        assert_eq!(resolved.entries[0].jobs.len(), 10);
        assert_eq!(fake.calls(ApiCall::ListJobs), 3);

        let fake = account();
        fake.fail_next(ApiCall::DescribeJob, 1, Fault::AccessDenied);
        let error = resolve_text(
            &fake,
            "  - {name: denied, job_id: \"s-0001\", set: Ready}\n",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&error, ResolveError::Api { error, .. } if error.kind == ApiErrorKind::AccessDenied),
            "{error:?}"
        );
        assert_eq!(
            fake.calls(ApiCall::DescribeJob),
            1,
            "access errors are not retried"
        );
    }
}
