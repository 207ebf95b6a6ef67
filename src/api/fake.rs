//! An in-memory `JobControl` with scripted faults, for executor and limiter unit tests.
//!
//! Owns a tiny model of the job API (the lifecycle's transition rules), a script of faults (throttle the k-th
//! call, fail the next N calls of an operation, change a status on a virtual schedule, race a status change
//! in just before an update), an optional server-side token bucket, and counters of every call per
//! operation and per job (mountpoint-s3's `MockClient` plus `failure_client.rs`). Time is Tokio time, so tests
//! run with paused time. Does not speak the wire format (the sandbox does).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::api::{
    Answer, ApiCall, ApiError, ApiErrorKind, JobControl, JobDescription, JobDetails, JobId,
    JobPage, JobStatus, JobSummary, Progress, Tag, TargetStatus,
};

/// A failure the fake can answer with instead of doing the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `TooManyRequestsException`, HTTP 429.
    Throttle,
    /// `InternalServiceException`, HTTP 500.
    ServerError,
    /// The call times out.
    Timeout,
    /// The connection drops.
    Connection,
    /// `AccessDenied`, HTTP 403.
    AccessDenied,
    /// A 2xx answer whose body cannot be read: the change was made, the answer is lost.
    Unreadable,
}

impl Fault {
    fn error(self, call: ApiCall, request_id: String) -> ApiError {
        let (kind, code, status) = match self {
            Fault::Throttle => (
                ApiErrorKind::Throttled,
                Some("TooManyRequestsException"),
                Some(429),
            ),
            Fault::ServerError => (
                ApiErrorKind::ServerError,
                Some("InternalServiceException"),
                Some(500),
            ),
            Fault::Timeout => (ApiErrorKind::Timeout, None, None),
            Fault::Connection => (ApiErrorKind::Connection, None, None),
            Fault::AccessDenied => (ApiErrorKind::AccessDenied, Some("AccessDenied"), Some(403)),
            Fault::Unreadable => (ApiErrorKind::MalformedResponse, None, Some(200)),
        };
        ApiError {
            call,
            kind,
            code: code.map(str::to_owned),
            message: Some(format!("injected {self:?}")),
            request_id: status.map(|_| request_id),
            http_status: status,
        }
    }
}

/// A server-side token bucket, to test how the client behaves against a throttling server.
#[derive(Debug, Clone)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Default)]
struct State {
    jobs: BTreeMap<JobId, JobSummary>,
    schedule: Vec<(Instant, JobId, JobStatus)>,
    races: HashMap<JobId, JobStatus>,
    nth_faults: HashMap<(ApiCall, u64), Fault>,
    next_faults: HashMap<ApiCall, VecDeque<Fault>>,
    /// Requests whose change is made but whose answer is lost ([`Fault::Unreadable`]).
    unreadable: HashSet<String>,
    buckets: HashMap<ApiCall, Bucket>,
    calls: HashMap<ApiCall, u64>,
    job_calls: HashMap<(JobId, ApiCall), u64>,
    mutation_times: Vec<Instant>,
    throttled: u64,
    in_flight: u32,
    max_in_flight: u32,
    request_seq: u64,
}

/// The in-memory job API. Build it, add jobs and faults, then hand it to the code under test in an `Arc`.
#[derive(Debug)]
pub struct FakeJobControl {
    state: Mutex<State>,
    start: Instant,
    latency: Duration,
}

impl Default for FakeJobControl {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeJobControl {
    /// An empty account whose calls answer at once.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            start: Instant::now(),
            latency: Duration::ZERO,
        }
    }

    /// Every call takes `latency` (virtual time) to answer; lets tests observe concurrency.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking test thread poisons the lock; the data is still fine for reading counters.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Adds a job with `status` and priority 10.
    pub fn add_job(&self, id: &str, status: JobStatus) -> JobId {
        let job = JobId::parse(id).expect("test job ids are valid");
        let summary = JobSummary {
            id: job.clone(),
            description: Some(format!("job {id}")),
            operation: Some("S3PutObjectTagging".to_owned()),
            priority: 10,
            status,
            creation_time: None,
            termination_date: None,
            progress: Progress::default(),
        };
        self.lock().jobs.insert(job.clone(), summary);
        job
    }

    /// Sets the job's task counters (`ProgressSummary`), as ListJobs and DescribeJob return them.
    pub fn set_progress(&self, job: &JobId, progress: Progress) {
        if let Some(summary) = self.lock().jobs.get_mut(job) {
            summary.progress = progress;
        }
    }

    /// The job's current status (after applying the schedule up to now).
    pub fn status(&self, job: &JobId) -> Option<JobStatus> {
        let mut state = self.lock();
        Self::advance(&mut state);
        state.jobs.get(job).map(|j| j.status)
    }

    /// The job's current priority.
    pub fn priority(&self, job: &JobId) -> Option<i32> {
        self.lock().jobs.get(job).map(|j| j.priority)
    }

    /// Changes the job's status `after` the fake was created (virtual time).
    pub fn schedule_status(&self, job: &JobId, after: Duration, status: JobStatus) {
        let at = self.start + after;
        self.lock().schedule.push((at, job.clone(), status));
    }

    /// Just before the next UpdateJobStatus on `job` is processed, the job moves to `status` (a race).
    pub fn race_before_update(&self, job: &JobId, status: JobStatus) {
        self.lock().races.insert(job.clone(), status);
    }

    /// The `nth` call (1-based) of `call` answers with `fault`.
    pub fn fail_nth(&self, call: ApiCall, nth: u64, fault: Fault) {
        self.lock().nth_faults.insert((call, nth), fault);
    }

    /// The next `count` calls of `call` answer with `fault`.
    pub fn fail_next(&self, call: ApiCall, count: usize, fault: Fault) {
        self.lock()
            .next_faults
            .entry(call)
            .or_default()
            .extend(std::iter::repeat_n(fault, count));
    }

    /// `call` is throttled by a server-side token bucket of `rate` per second and `burst` tokens.
    pub fn limit_rate(&self, call: ApiCall, rate: f64, burst: f64) {
        let last = Instant::now();
        self.lock().buckets.insert(
            call,
            Bucket {
                rate,
                burst,
                tokens: burst,
                last,
            },
        );
    }

    /// Calls of `call` made so far, faults included.
    pub fn calls(&self, call: ApiCall) -> u64 {
        self.lock().calls.get(&call).copied().unwrap_or(0)
    }

    /// Calls of `call` about `job` made so far.
    pub fn job_calls(&self, job: &JobId, call: ApiCall) -> u64 {
        self.lock()
            .job_calls
            .get(&(job.clone(), call))
            .copied()
            .unwrap_or(0)
    }

    /// Mutating calls made so far, of any kind.
    pub fn mutations(&self) -> u64 {
        self.calls(ApiCall::UpdateJobStatus) + self.calls(ApiCall::UpdateJobPriority)
    }

    /// When each mutating call arrived (virtual time).
    pub fn mutation_times(&self) -> Vec<Instant> {
        self.lock().mutation_times.clone()
    }

    /// Calls the server-side bucket throttled.
    pub fn throttled(&self) -> u64 {
        self.lock().throttled
    }

    /// The most mutating calls that were in flight at once.
    pub fn max_in_flight_mutations(&self) -> u32 {
        self.lock().max_in_flight
    }

    fn advance(state: &mut State) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut state.schedule)
            .into_iter()
            .partition(|(at, _, _)| *at <= now);
        state.schedule = later;
        for (_, job, status) in due {
            if let Some(summary) = state.jobs.get_mut(&job) {
                summary.status = status;
            }
        }
    }

    /// Counts the call, applies the schedule, and returns the scripted fault if any.
    fn begin(&self, call: ApiCall, job: Option<&JobId>) -> Result<String, ApiError> {
        let mut state = self.lock();
        Self::advance(&mut state);
        state.request_seq += 1;
        let request_id = format!("REQ{:06}", state.request_seq);
        let count = {
            let count = state.calls.entry(call).or_insert(0);
            *count += 1;
            *count
        };
        if let Some(job) = job {
            *state.job_calls.entry((job.clone(), call)).or_insert(0) += 1;
        }
        if call.is_mutation() {
            state.mutation_times.push(Instant::now());
        }
        let fault = state.nth_faults.remove(&(call, count)).or_else(|| {
            state
                .next_faults
                .get_mut(&call)
                .and_then(VecDeque::pop_front)
        });
        if fault == Some(Fault::Unreadable) {
            state.unreadable.insert(request_id.clone());
        } else if let Some(fault) = fault {
            return Err(fault.error(call, request_id));
        }
        let now = Instant::now();
        if let Some(bucket) = state.buckets.get_mut(&call)
            && !bucket.take(now)
        {
            state.throttled += 1;
            return Err(Fault::Throttle.error(call, request_id));
        }
        Ok(request_id)
    }

    async fn latency(&self, mutation: bool) {
        if mutation {
            let mut state = self.lock();
            state.in_flight += 1;
            state.max_in_flight = state.max_in_flight.max(state.in_flight);
        }
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if mutation {
            self.lock().in_flight -= 1;
        }
    }

    fn not_found(call: ApiCall, job: &JobId, request_id: String) -> ApiError {
        ApiError {
            call,
            kind: ApiErrorKind::NotFound,
            code: Some("NotFoundException".to_owned()),
            message: Some(format!("no such job {job}")),
            request_id: Some(request_id),
            http_status: Some(404),
        }
    }
}

impl JobControl for FakeJobControl {
    async fn describe_job(&self, job: &JobId) -> Result<Answer<JobDescription>, ApiError> {
        self.latency(false).await;
        let request_id = self.begin(ApiCall::DescribeJob, Some(job))?;
        let state = self.lock();
        let summary = state
            .jobs
            .get(job)
            .cloned()
            .ok_or_else(|| Self::not_found(ApiCall::DescribeJob, job, request_id.clone()))?;
        Ok(Answer {
            value: JobDescription {
                summary,
                status_update_reason: None,
                suspended_cause: None,
                failure_reasons: Vec::new(),
                confirmation_required: None,
                details: JobDetails::default(),
            },
            request_id: Some(request_id),
        })
    }

    async fn list_jobs(
        &self,
        statuses: &[JobStatus],
        next_token: Option<&str>,
        max_results: i32,
    ) -> Result<Answer<JobPage>, ApiError> {
        self.latency(false).await;
        let request_id = self.begin(ApiCall::ListJobs, None)?;
        let state = self.lock();
        let offset: usize = next_token.and_then(|t| t.parse().ok()).unwrap_or(0);
        let size = usize::try_from(max_results.clamp(1, 1000)).unwrap_or(1000);
        let matching: Vec<&JobSummary> = state
            .jobs
            .values()
            .filter(|j| statuses.is_empty() || statuses.contains(&j.status))
            .collect();
        let jobs: Vec<JobSummary> = matching
            .iter()
            .skip(offset)
            .take(size)
            .map(|j| (*j).clone())
            .collect();
        let next = offset + jobs.len();
        Ok(Answer {
            value: JobPage {
                jobs,
                next_token: (next < matching.len()).then(|| next.to_string()),
            },
            request_id: Some(request_id),
        })
    }

    async fn update_job_status(
        &self,
        job: &JobId,
        target: TargetStatus,
        _reason: Option<&str>,
    ) -> Result<Answer<JobStatus>, ApiError> {
        self.latency(true).await;
        let request_id = self.begin(ApiCall::UpdateJobStatus, Some(job))?;
        let mut state = self.lock();
        if let Some(status) = state.races.remove(job)
            && let Some(summary) = state.jobs.get_mut(job)
        {
            summary.status = status;
        }
        let Some(summary) = state.jobs.get_mut(job) else {
            return Err(Self::not_found(ApiCall::UpdateJobStatus, job, request_id));
        };
        use JobStatus as S;
        let next = match (target, summary.status) {
            (TargetStatus::Ready, S::Suspended) => Some(S::Ready),
            (TargetStatus::Cancelled, S::New | S::Preparing | S::Suspended | S::Ready) => {
                Some(S::Cancelled)
            }
            (TargetStatus::Cancelled, S::Active | S::Pausing | S::Paused) => Some(S::Cancelling),
            _ => None,
        };
        match next {
            Some(status) => {
                summary.status = status;
                if state.unreadable.remove(&request_id) {
                    return Err(Fault::Unreadable.error(ApiCall::UpdateJobStatus, request_id));
                }
                Ok(Answer {
                    value: status,
                    request_id: Some(request_id),
                })
            }
            None => Err(ApiError {
                call: ApiCall::UpdateJobStatus,
                kind: ApiErrorKind::JobStatusConflict,
                code: Some("JobStatusException".to_owned()),
                message: Some(format!("job {job} is {}", summary.status)),
                request_id: Some(request_id),
                http_status: Some(400),
            }),
        }
    }

    async fn update_job_priority(
        &self,
        job: &JobId,
        priority: i32,
    ) -> Result<Answer<i32>, ApiError> {
        self.latency(true).await;
        let request_id = self.begin(ApiCall::UpdateJobPriority, Some(job))?;
        let mut state = self.lock();
        let Some(summary) = state.jobs.get_mut(job) else {
            return Err(Self::not_found(ApiCall::UpdateJobPriority, job, request_id));
        };
        summary.priority = priority;
        if state.unreadable.remove(&request_id) {
            return Err(Fault::Unreadable.error(ApiCall::UpdateJobPriority, request_id));
        }
        Ok(Answer {
            value: priority,
            request_id: Some(request_id),
        })
    }

    async fn get_job_tagging(&self, job: &JobId) -> Result<Answer<Vec<Tag>>, ApiError> {
        self.latency(false).await;
        let request_id = self.begin(ApiCall::GetJobTagging, Some(job))?;
        if !self.lock().jobs.contains_key(job) {
            return Err(Self::not_found(ApiCall::GetJobTagging, job, request_id));
        }
        Ok(Answer {
            value: Vec::new(),
            request_id: Some(request_id),
        })
    }
}
