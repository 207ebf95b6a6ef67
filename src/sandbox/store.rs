//! In-memory state: accounts and their jobs, and the operations on them (describe, list, update status and
//! priority, tags, create).
//!
//! Owns job records, the ListJobs cursor token and input validation that needs the state (unknown job,
//! retention, idempotency). Statuses come from `lifecycle.rs` at the instant passed in; the store never
//! reads a clock itself and holds no locks (the server wraps it in one mutex).

use std::collections::{BTreeMap, HashMap};

use rand::{Rng as _, SeedableRng as _};
use sha2::Digest as _;

use super::clock::SimTime;
use super::error::{ErrorCode, WireError};
use super::lifecycle::{
    Decision, Events, JobScript, JobStatus, RequestedStatus, Snapshot, Timeline, Timings,
    TransitionRules, decide,
};

/// Jobs stay visible this long after reaching a terminal status: AWS keeps finished jobs for 90 days.
pub(crate) const RETENTION_MS: i64 = 90 * 24 * 3600 * 1000;
/// ListJobs page size when `maxResults` is absent or 0 (AWS does not document one; 1000 is the maximum).
pub(crate) const DEFAULT_PAGE_SIZE: usize = 1000;
/// Most tags a job may carry.
pub(crate) const MAX_TAGS: usize = 50;

/// Where jobs live: an account in a region (the service keeps jobs per account and region).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scope<'a> {
    /// The 12-digit account id.
    pub(crate) account: &'a str,
    /// The region, e.g. `us-east-1`.
    pub(crate) region: &'a str,
}

impl<'a> Scope<'a> {
    /// `account` in `region`.
    pub(crate) fn new(account: &'a str, region: &'a str) -> Self {
        Scope { account, region }
    }
}

/// A job tag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Tag {
    /// Key, 1–128 chars.
    pub(crate) key: String,
    /// Value, 0–256 chars.
    pub(crate) value: String,
}

/// Everything the sandbox knows about one job.
#[derive(Debug, Clone)]
pub(crate) struct JobRecord {
    /// `JobId`.
    pub(crate) id: String,
    /// `Description`.
    pub(crate) description: Option<String>,
    /// `Priority`.
    pub(crate) priority: i32,
    /// The operation's name (`S3PutObjectTagging`, …) for ListJobs.
    pub(crate) operation_name: String,
    /// The `<Operation>` element, echoed by DescribeJob.
    pub(crate) operation_xml: String,
    /// The `<Manifest>` element, if any.
    pub(crate) manifest_xml: Option<String>,
    /// The `<Report>` element.
    pub(crate) report_xml: String,
    /// `RoleArn`.
    pub(crate) role_arn: String,
    /// Job tags.
    pub(crate) tags: Vec<Tag>,
    /// The seeded story.
    pub(crate) script: JobScript,
    /// User requests applied so far.
    pub(crate) events: Events,
    /// `script` + `events`, cached.
    pub(crate) timeline: Timeline,
    /// `StatusUpdateReason` of the last accepted UpdateJobStatus.
    pub(crate) status_update_reason: Option<String>,
    /// `SuspendedCause` once suspended.
    pub(crate) suspended_cause: Option<String>,
}

/// A job to add: either from a seed or from CreateJob.
#[derive(Debug, Clone)]
pub(crate) struct NewJob {
    /// Explicit id; generated when `None`.
    pub(crate) id: Option<String>,
    /// `Description`.
    pub(crate) description: Option<String>,
    /// `Priority`.
    pub(crate) priority: i32,
    /// Operation name.
    pub(crate) operation_name: String,
    /// `<Operation>` element.
    pub(crate) operation_xml: String,
    /// `<Manifest>` element.
    pub(crate) manifest_xml: Option<String>,
    /// `<Report>` element.
    pub(crate) report_xml: String,
    /// `RoleArn`.
    pub(crate) role_arn: String,
    /// Tags.
    pub(crate) tags: Vec<Tag>,
    /// The story.
    pub(crate) script: JobScript,
    /// Events already applied (seeded jobs that were confirmed or cancelled before the sandbox started).
    pub(crate) events: Events,
    /// Reason echoed as `StatusUpdateReason` for seeded events.
    pub(crate) status_update_reason: Option<String>,
    /// `SuspendedCause`.
    pub(crate) suspended_cause: Option<String>,
}

#[derive(Debug, Default)]
struct AccountJobs {
    jobs: BTreeMap<u64, JobRecord>,
    ids: HashMap<String, u64>,
    /// CreateJob idempotency: client token → (job id, request fingerprint).
    tokens: HashMap<String, (String, [u8; 32])>,
}

/// The sandbox's job state.
#[derive(Debug)]
pub(crate) struct Store {
    scopes: HashMap<(String, String), AccountJobs>,
    accounts: std::collections::HashSet<String>,
    next_seq: u64,
    rules: TransitionRules,
    region: String,
    token_salt: [u8; 16],
    rng: rand_chacha::ChaCha8Rng,
}

/// One ListJobs page.
#[derive(Debug)]
pub(crate) struct Page<'a> {
    /// Jobs with their state now.
    pub(crate) jobs: Vec<(&'a JobRecord, Snapshot)>,
    /// Token for the next page, when more jobs may follow.
    pub(crate) next_token: Option<String>,
}

impl Store {
    /// An empty store. `random_seed` drives generated ids and the token checksum salt.
    pub(crate) fn new(region: impl Into<String>, rules: TransitionRules, random_seed: u64) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(random_seed);
        let token_salt = rng.random();
        Store {
            scopes: HashMap::new(),
            accounts: std::collections::HashSet::new(),
            next_seq: 1,
            rules,
            region: region.into(),
            token_salt,
            rng,
        }
    }

    /// The default region: seeded jobs without one live there.
    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    /// The transition rules in force for the cases AWS does not document.
    pub(crate) fn rules(&self) -> TransitionRules {
        self.rules
    }

    /// Creates `account` if it does not exist (in every region: a region without jobs lists none).
    pub(crate) fn add_account(&mut self, account: &str) {
        self.accounts.insert(account.to_owned());
    }

    /// Whether `account` exists.
    pub(crate) fn has_account(&self, account: &str) -> bool {
        self.accounts.contains(account)
    }

    fn jobs_in(&self, scope: Scope<'_>) -> Option<&AccountJobs> {
        self.scopes
            .get(&(scope.account.to_owned(), scope.region.to_owned()))
    }

    fn jobs_in_mut(&mut self, scope: Scope<'_>) -> &mut AccountJobs {
        self.accounts.insert(scope.account.to_owned());
        self.scopes
            .entry((scope.account.to_owned(), scope.region.to_owned()))
            .or_default()
    }

    /// Adds a job to an account (created if needed) and returns its id. Fails on a duplicate id.
    pub(crate) fn insert(&mut self, scope: Scope<'_>, job: NewJob) -> Result<String, WireError> {
        let id = match job.id {
            Some(id) => id,
            None => self.fresh_id(),
        };
        let timeline = Timeline::build(&job.script, job.events, self.rules);
        let seq = self.next_seq;
        if self
            .jobs_in(scope)
            .is_some_and(|jobs| jobs.ids.contains_key(&id))
        {
            return Err(WireError::new(
                ErrorCode::BadRequest,
                format!(
                    "job {id} already exists in account {} in {}",
                    scope.account, scope.region
                ),
            ));
        }
        self.next_seq += 1;
        let jobs = self.jobs_in_mut(scope);
        jobs.ids.insert(id.clone(), seq);
        jobs.jobs.insert(
            seq,
            JobRecord {
                id: id.clone(),
                description: job.description,
                priority: job.priority,
                operation_name: job.operation_name,
                operation_xml: job.operation_xml,
                manifest_xml: job.manifest_xml,
                report_xml: job.report_xml,
                role_arn: job.role_arn,
                tags: job.tags,
                script: job.script,
                events: job.events,
                timeline,
                status_update_reason: job.status_update_reason,
                suspended_cause: job.suspended_cause,
            },
        );
        Ok(id)
    }

    /// CreateJob: adds a job created `now`, honouring the client request token.
    pub(crate) fn create(
        &mut self,
        scope: Scope<'_>,
        token: &str,
        fingerprint: [u8; 32],
        mut job: NewJob,
        now: SimTime,
    ) -> Result<String, WireError> {
        if let Some((id, known)) = self.jobs_in(scope).and_then(|a| a.tokens.get(token)) {
            return if *known == fingerprint {
                Ok(id.clone())
            } else {
                Err(WireError::new(
                    ErrorCode::Idempotency,
                    format!(
                        "client request token {token} was already used for a different CreateJob request"
                    ),
                ))
            };
        }
        job.script.created = now;
        let id = self.insert(scope, job)?;
        self.jobs_in_mut(scope)
            .tokens
            .insert(token.to_owned(), (id.clone(), fingerprint));
        Ok(id)
    }

    fn fresh_id(&mut self) -> String {
        let bytes: [u8; 16] = self.rng.random();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// A generated id (lowercase UUID v4) from the store's deterministic generator.
    pub(crate) fn generate_id(&mut self) -> String {
        self.fresh_id()
    }

    /// The job and its state at `now`; `NotFoundException` when unknown or past retention.
    pub(crate) fn job(
        &self,
        scope: Scope<'_>,
        id: &str,
        now: SimTime,
    ) -> Result<(&JobRecord, Snapshot), WireError> {
        let record = self
            .jobs_in(scope)
            .and_then(|a| a.ids.get(id).and_then(|seq| a.jobs.get(seq)));
        let Some(record) = record else {
            return Err(not_found(id));
        };
        let snap = record.timeline.snapshot(&record.script, now);
        if expired(&snap, now) {
            return Err(not_found(id));
        }
        Ok((record, snap))
    }

    fn record_mut(
        &mut self,
        scope: Scope<'_>,
        id: &str,
        now: SimTime,
    ) -> Result<&mut JobRecord, WireError> {
        self.job(scope, id, now)?;
        let jobs = self.jobs_in_mut(scope);
        jobs.ids
            .get(id)
            .copied()
            .and_then(|seq| jobs.jobs.get_mut(&seq))
            .ok_or_else(|| not_found(id))
    }

    /// ListJobs: newest first, filtered by `statuses` (empty = all), from the cursor in `token`.
    ///
    /// The token is a cursor over creation order (the sequence number of the last job returned, with a
    /// checksum), not an offset into the filtered list, so jobs changing status between pages never shift
    /// other jobs out of or into view twice.
    pub(crate) fn list(
        &self,
        scope: Scope<'_>,
        statuses: &[JobStatus],
        max: usize,
        token: Option<&str>,
        now: SimTime,
    ) -> Result<Page<'_>, WireError> {
        let cursor = match token {
            Some(t) => Some(self.decode_token(scope, t)?),
            None => None,
        };
        let Some(jobs) = self.jobs_in(scope) else {
            return Ok(Page {
                jobs: Vec::new(),
                next_token: None,
            });
        };
        let upper = cursor.unwrap_or(u64::MAX);
        let mut out = Vec::with_capacity(max.min(64));
        let mut last = None;
        let mut more = false;
        for (seq, record) in jobs.jobs.range(..upper).rev() {
            let snap = record.timeline.snapshot(&record.script, now);
            if expired(&snap, now) || record.script.created > now {
                continue;
            }
            if !statuses.is_empty() && !statuses.contains(&snap.status) {
                continue;
            }
            if out.len() == max {
                more = true;
                break;
            }
            out.push((record, snap));
            last = Some(*seq);
        }
        let next_token = match (more, last) {
            (true, Some(seq)) => Some(self.encode_token(scope, seq)),
            _ => None,
        };
        Ok(Page {
            jobs: out,
            next_token,
        })
    }

    fn checksum(&self, scope: Scope<'_>, seq: u64) -> u32 {
        let mut hasher = sha2::Sha256::new();
        hasher.update(self.token_salt);
        hasher.update(scope.account.as_bytes());
        hasher.update(b"/");
        hasher.update(scope.region.as_bytes());
        hasher.update(seq.to_be_bytes());
        let digest = hasher.finalize();
        u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
    }

    fn encode_token(&self, scope: Scope<'_>, seq: u64) -> String {
        format!("c{seq:x}-{:08x}", self.checksum(scope, seq))
    }

    fn decode_token(&self, scope: Scope<'_>, token: &str) -> Result<u64, WireError> {
        let invalid = || {
            WireError::new(
                ErrorCode::InvalidNextToken,
                "the nextToken is not one this server issued for this account and region",
            )
        };
        let rest = token.strip_prefix('c').ok_or_else(invalid)?;
        let (seq, check) = rest.split_once('-').ok_or_else(invalid)?;
        let seq = u64::from_str_radix(seq, 16).map_err(|_| invalid())?;
        let check = u32::from_str_radix(check, 16).map_err(|_| invalid())?;
        if check != self.checksum(scope, seq) {
            return Err(invalid());
        }
        Ok(seq)
    }

    /// UpdateJobStatus: applies the decision table at `now` and returns the status to answer with.
    pub(crate) fn update_status(
        &mut self,
        scope: Scope<'_>,
        id: &str,
        requested: RequestedStatus,
        reason: Option<&str>,
        now: SimTime,
    ) -> Result<JobStatus, WireError> {
        let rules = self.rules;
        let record = self.record_mut(scope, id, now)?;
        let current = record.timeline.status_at(now);
        match decide(current, requested, rules) {
            Decision::Reject => Err(WireError::new(
                ErrorCode::JobStatus,
                format!(
                    "job {id} is {current}; requestedJobStatus={} is not allowed in this status",
                    requested.as_str()
                ),
            )),
            Decision::Unchanged => {
                if let Some(reason) = reason {
                    record.status_update_reason = Some(reason.to_owned());
                }
                Ok(current)
            }
            Decision::Confirm | Decision::Cancel => {
                if requested == RequestedStatus::Ready {
                    record.events.confirmed_at = Some(now);
                } else {
                    record.events.cancelled_at = Some(now);
                }
                record.timeline = Timeline::build(&record.script, record.events, rules);
                record.status_update_reason = reason.map(str::to_owned);
                // The answer is the status the request moved the job to (`Ready`, `Cancelling`, …), as the
                // service answers it, even when the seeded timings are zero and the job has already moved
                // on at this same instant (a job confirmed with zero-length phases is `Complete` at once).
                let segments = record.timeline.segments();
                let entered = segments
                    .iter()
                    .rposition(|seg| seg.start <= now && seg.status == current)
                    .and_then(|i| segments.get(i + 1))
                    .filter(|next| next.start == now)
                    .map(|next| next.status);
                Ok(entered.unwrap_or_else(|| record.timeline.status_at(now)))
            }
        }
    }

    /// UpdateJobPriority.
    pub(crate) fn update_priority(
        &mut self,
        scope: Scope<'_>,
        id: &str,
        priority: i32,
        now: SimTime,
    ) -> Result<i32, WireError> {
        let record = self.record_mut(scope, id, now)?;
        record.priority = priority;
        Ok(priority)
    }

    /// PutJobTagging (replaces the whole set; empty deletes all).
    pub(crate) fn put_tags(
        &mut self,
        scope: Scope<'_>,
        id: &str,
        tags: Vec<Tag>,
        now: SimTime,
    ) -> Result<(), WireError> {
        let record = self.record_mut(scope, id, now)?;
        record.tags = tags;
        Ok(())
    }

    /// DeleteJobTagging.
    pub(crate) fn delete_tags(
        &mut self,
        scope: Scope<'_>,
        id: &str,
        now: SimTime,
    ) -> Result<(), WireError> {
        let record = self.record_mut(scope, id, now)?;
        record.tags.clear();
        Ok(())
    }
}

/// Default phase lengths for jobs made by CreateJob.
pub(crate) fn created_job_script(confirmation_required: bool) -> JobScript {
    JobScript {
        created: SimTime(0),
        confirmation_required,
        timings: Timings::default(),
        pause: None,
        failure: None,
        total_tasks: 100,
        task_failure_rate: 0.0,
    }
}

fn expired(snap: &Snapshot, now: SimTime) -> bool {
    snap.termination_date
        .is_some_and(|end| now.0.saturating_sub(end.0) > RETENTION_MS)
}

fn not_found(id: &str) -> WireError {
    WireError::new(ErrorCode::NotFound, format!("no such job: {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(account: &str) -> Scope<'_> {
        Scope::new(account, "us-east-1")
    }

    fn job(id: &str, confirmation_required: bool) -> NewJob {
        NewJob {
            id: Some(id.to_owned()),
            description: Some(format!("job {id}")),
            priority: 10,
            operation_name: "S3PutObjectTagging".into(),
            operation_xml: "<Operation><S3PutObjectTagging/></Operation>".into(),
            manifest_xml: None,
            report_xml: "<Report><Enabled>false</Enabled></Report>".into(),
            role_arn: "arn:aws:iam::111122223333:role/batch".into(),
            tags: Vec::new(),
            script: JobScript {
                created: SimTime(0),
                ..created_job_script(confirmation_required)
            },
            events: Events::default(),
            status_update_reason: None,
            suspended_cause: None,
        }
    }

    #[test]
    fn confirm_then_cancel_follows_the_table() {
        let mut store = Store::new("us-east-1", TransitionRules::default(), 1);
        store
            .insert(sc("111122223333"), job("job-00001", true))
            .unwrap();
        let t = SimTime(60_000);
        let status = store
            .update_status(
                sc("111122223333"),
                "job-00001",
                RequestedStatus::Ready,
                Some("go"),
                t,
            )
            .unwrap();
        assert_eq!(status, JobStatus::Ready);
        let err = store
            .update_status(
                sc("111122223333"),
                "job-00001",
                RequestedStatus::Ready,
                None,
                t,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::JobStatus);
        let (record, _) = store.job(sc("111122223333"), "job-00001", t).unwrap();
        assert_eq!(record.status_update_reason.as_deref(), Some("go"));
    }

    #[test]
    fn unknown_job_and_forged_token_are_rejected() {
        let store = Store::new("us-east-1", TransitionRules::default(), 1);
        let err = store
            .job(sc("111122223333"), "nope-1", SimTime(0))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        let err = store
            .list(sc("111122223333"), &[], 10, Some("c5-00000000"), SimTime(0))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidNextToken);
    }

    #[test]
    fn pages_walk_newest_first_without_overlap() {
        let mut store = Store::new("us-east-1", TransitionRules::default(), 1);
        for i in 0..5 {
            store
                .insert(sc("a"), job(&format!("job-{i:05}"), true))
                .unwrap();
        }
        let now = SimTime(60_000);
        let first = store.list(sc("a"), &[], 2, None, now).unwrap();
        let ids: Vec<&str> = first.jobs.iter().map(|(r, _)| r.id.as_str()).collect();
        assert_eq!(ids, ["job-00004", "job-00003"]);
        let token = first.next_token.unwrap();
        let second = store.list(sc("a"), &[], 10, Some(&token), now).unwrap();
        let ids: Vec<&str> = second.jobs.iter().map(|(r, _)| r.id.as_str()).collect();
        assert_eq!(ids, ["job-00002", "job-00001", "job-00000"]);
        assert!(second.next_token.is_none());
    }

    #[test]
    fn terminal_jobs_expire_after_retention() {
        let mut store = Store::new("us-east-1", TransitionRules::default(), 1);
        store.insert(sc("a"), job("job-00001", true)).unwrap();
        store
            .update_status(
                sc("a"),
                "job-00001",
                RequestedStatus::Cancelled,
                None,
                SimTime(60_000),
            )
            .unwrap();
        assert!(
            store
                .job(sc("a"), "job-00001", SimTime(60_000 + RETENTION_MS))
                .is_ok()
        );
        let late = SimTime(60_001 + RETENTION_MS);
        assert_eq!(
            store.job(sc("a"), "job-00001", late).unwrap_err().code,
            ErrorCode::NotFound
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::sandbox::lifecycle::{CancelBeforeStart, Failure, Pause, RepeatRequest};

        fn reachable(from: JobStatus, to: JobStatus) -> bool {
            let mut seen = vec![from];
            let mut i = 0;
            while i < seen.len() {
                for next in seen[i].successors() {
                    if !seen.contains(next) {
                        seen.push(*next);
                    }
                }
                i += 1;
            }
            seen.contains(&to)
        }

        /// The UpdateJobStatus rules written out as a table, independently of `decide`: for each status,
        /// the answer to a confirm and to a cancel, under the two configurable choices.
        /// (status, answer to a confirm, answer to a cancel).
        type Row = (
            JobStatus,
            Result<JobStatus, ErrorCode>,
            Result<JobStatus, ErrorCode>,
        );

        fn expected_answer(
            current: JobStatus,
            requested: RequestedStatus,
            rules: TransitionRules,
        ) -> Result<JobStatus, ErrorCode> {
            use JobStatus::*;
            let reject = Err(ErrorCode::JobStatus);
            let accept_repeat = rules.repeat_request == RepeatRequest::Accept;
            let slow_cancel = rules.cancel_before_start == CancelBeforeStart::Cancelling;
            let table: [Row; 13] = [
                (
                    New,
                    reject,
                    Ok(if slow_cancel { Cancelling } else { Cancelled }),
                ),
                (
                    Preparing,
                    reject,
                    Ok(if slow_cancel { Cancelling } else { Cancelled }),
                ),
                (Suspended, Ok(Ready), Ok(Cancelled)),
                (
                    Ready,
                    if accept_repeat { Ok(Ready) } else { reject },
                    Ok(if slow_cancel { Cancelling } else { Cancelled }),
                ),
                (Active, reject, Ok(Cancelling)),
                (Pausing, reject, Ok(Cancelling)),
                (Paused, reject, Ok(Cancelling)),
                (Completing, reject, reject),
                (Complete, reject, reject),
                (
                    Cancelling,
                    reject,
                    if accept_repeat {
                        Ok(Cancelling)
                    } else {
                        reject
                    },
                ),
                (
                    Cancelled,
                    reject,
                    if accept_repeat { Ok(Cancelled) } else { reject },
                ),
                (Failing, reject, reject),
                (Failed, reject, reject),
            ];
            let (_, confirm, cancel) = table
                .into_iter()
                .find(|(s, _, _)| *s == current)
                .expect("every status has a row");
            match requested {
                RequestedStatus::Ready => confirm,
                RequestedStatus::Cancelled => cancel,
            }
        }

        #[derive(Debug, Clone)]
        enum Step {
            Advance(i64),
            Confirm(usize),
            Cancel(usize),
        }

        fn step() -> impl Strategy<Value = Step> {
            prop_oneof![
                (0i64..120_000).prop_map(Step::Advance),
                (0usize..4).prop_map(Step::Confirm),
                (0usize..4).prop_map(Step::Cancel),
            ]
        }

        fn script() -> impl Strategy<Value = JobScript> {
            (
                any::<bool>(),
                prop::array::uniform5(0i64..60_000),
                prop::option::of((0i64..60_000, 0i64..60_000)),
                prop::option::of(0i64..90_000),
                0i64..10_000,
            )
                .prop_map(|(confirm, t, pause, fail, tasks)| JobScript {
                    created: SimTime(0),
                    confirmation_required: confirm,
                    timings: Timings {
                        new_ms: t[0],
                        preparing_ms: t[1],
                        ready_ms: t[2],
                        active_ms: t[3],
                        transition_ms: t[4],
                    },
                    pause: pause.map(|(after, paused)| Pause {
                        after_active_ms: after,
                        paused_ms: paused,
                    }),
                    failure: fail.map(|after| Failure {
                        after_active_ms: after,
                        code: "C".into(),
                        reason: "r".into(),
                    }),
                    total_tasks: tasks,
                    task_failure_rate: 0.1,
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// No job ever takes a transition the lifecycle forbids, terminal jobs never change, and
            /// every UpdateJobStatus answer is the one the independent table above gives.
            #[test]
            fn jobs_only_take_allowed_transitions(
                scripts in prop::collection::vec(script(), 4),
                steps in prop::collection::vec(step(), 1..40),
                slow_cancel in any::<bool>(),
                accept_repeats in any::<bool>(),
            ) {
                let rules = TransitionRules {
                    cancel_before_start: if slow_cancel { CancelBeforeStart::Cancelling } else { CancelBeforeStart::Cancelled },
                    repeat_request: if accept_repeats { RepeatRequest::Accept } else { RepeatRequest::Reject },
                };
                let mut store = Store::new("us-east-1", rules, 3);
                let ids: Vec<String> = (0..4).map(|i| format!("prop-{i:05}")).collect();
                for (id, script) in ids.iter().zip(&scripts) {
                    let mut new = job(id, script.confirmation_required);
                    new.script = script.clone();
                    store.insert(sc("a"), new).unwrap();
                }
                let mut now = SimTime(0);
                let status = |store: &Store, id: &str, now| store.job(sc("a"), id, now).unwrap().1.status;
                let mut last: Vec<JobStatus> = ids.iter().map(|id| status(&store, id, now)).collect();
                for step in steps {
                    match step {
                        Step::Advance(ms) => now = now.plus_ms(ms),
                        Step::Confirm(i) | Step::Cancel(i) => {
                            let requested = if matches!(step, Step::Confirm(_)) {
                                RequestedStatus::Ready
                            } else {
                                RequestedStatus::Cancelled
                            };
                            let before = status(&store, &ids[i], now);
                            let answer = store
                                .update_status(sc("a"), &ids[i], requested, Some("why"), now)
                                .map_err(|e| e.code);
                            let expected = expected_answer(before, requested, rules);
                            prop_assert_eq!(answer, expected, "{:?} on {}", requested, before);
                        }
                    }
                    for (i, id) in ids.iter().enumerate() {
                        let current = status(&store, id, now);
                        prop_assert!(reachable(last[i], current), "{id}: {} -> {current}", last[i]);
                        if last[i].is_terminal() {
                            prop_assert_eq!(current, last[i]);
                        }
                        last[i] = current;
                    }
                }
            }
        }
    }
}
