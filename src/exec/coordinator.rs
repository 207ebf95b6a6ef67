//! The coordinator: the one loop that owns a run's state and hands every event to the reporters.
//!
//! [`run`] is the single entry point of `apply`: it builds the limiter, the retry caller and the gate
//! poller, spawns the executor, then `select!`s over events, a tick and cancellation. Cancellation (the
//! caller's token, or a failing reporter) stops new work at once and lets in-flight calls finish for up to
//! `RunOptions::grace`; after that the executor is dropped and every unfinished job is reported by the
//! coordinator itself, so the report always names every job. Does not install signal handlers (the command
//! does) or render anything (reporters do).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::JobControl;
use crate::errors;
use crate::event::{Event, EventKind, JobIndex, RunInfo};
use crate::exec::emitter::Emitter;
use crate::exec::executor::{Context, not_run_record};
use crate::exec::journal::{Journal, NoJournal};
use crate::exec::limiter::Limiter;
use crate::exec::outcome::Outcome;
use crate::exec::poller::GatePoller;
use crate::exec::resume::Resume;
use crate::exec::retry::{Caller, RetryPolicy};
use crate::exec::scheduler;
use crate::exec::site::Site;
use crate::report::{ReportError, ReporterSet};
use crate::resolved::ResolvedPlan;

/// Knobs of a run that are not plan settings.
#[derive(Clone)]
pub struct RunOptions {
    /// How transient failures are retried.
    pub retry: RetryPolicy,
    /// After an interruption, how long in-flight calls may still finish.
    pub grace: Duration,
    /// The pre-send hook of mutating attempts.
    pub journal: Arc<dyn Journal>,
    /// How often reporters get a `tick` between events.
    pub tick: Duration,
    /// Ends the grace period at once (a second Ctrl-C): in-flight calls are abandoned and reported.
    pub abort: CancellationToken,
    /// What an earlier run's journal says was done (`apply --resume`); empty by default.
    pub resume: Arc<Resume>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("retry", &self.retry)
            .field("grace", &self.grace)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            grace: Duration::from_secs(10),
            journal: Arc::new(NoJournal),
            tick: Duration::from_millis(200),
            abort: CancellationToken::new(),
            resume: Arc::new(Resume::default()),
        }
    }
}

/// What a run did, for the final summary and the exit code.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Jobs per outcome, in [`Outcome::ALL`] order.
    pub counts: [usize; Outcome::ALL.len()],
    /// Whether the run was interrupted.
    pub interrupted: bool,
    /// Reporters that failed (the run was cancelled because of them).
    pub reporter_errors: Vec<ReportError>,
    /// The journal failure that stopped the run, if one did (nothing more was sent after it).
    pub journal_error: Option<String>,
    /// Throttled answers met (each cut the plan's rate at most once per cooldown).
    pub throttle_events: usize,
    /// Retries made.
    pub retries: usize,
}

impl RunSummary {
    /// Jobs that ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        Outcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .map_or(0, |i| self.counts[i])
    }

    /// Every job of the run.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// 1 when the journal failed, 130 when interrupted, 1 when a job failed, timed out or did not run, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.journal_error.is_some() {
            errors::EXIT_JOBS_FAILED
        } else if self.interrupted {
            errors::EXIT_INTERRUPTED
        } else if self.count(Outcome::Failed)
            + self.count(Outcome::TimedOut)
            + self.count(Outcome::NotRun)
            > 0
            || !self.reporter_errors.is_empty()
        {
            errors::EXIT_JOBS_FAILED
        } else {
            errors::EXIT_OK
        }
    }
}

/// A started job as seen through its events.
struct Started {
    at: jiff::Timestamp,
    status: Option<crate::api::JobStatus>,
    /// Mutating attempts sent; above 0, a call may have changed the job.
    mutations: u32,
}

/// The run state the coordinator owns.
struct RunState {
    finished: Vec<Vec<bool>>,
    /// What is known of jobs that started and have not finished, for the records of abandoned jobs.
    started: std::collections::HashMap<JobIndex, Started>,
    entry_finished: Vec<bool>,
    summary: RunSummary,
}

impl RunState {
    fn observe(&mut self, event: &Event) {
        match &event.kind {
            EventKind::JobWaiting { index, .. } => {
                self.started.entry(*index).or_insert(Started {
                    at: event.at,
                    status: None,
                    mutations: 0,
                });
            }
            EventKind::JobApplying { index, status, .. } => {
                self.started
                    .entry(*index)
                    .or_insert(Started {
                        at: event.at,
                        status: None,
                        mutations: 0,
                    })
                    .status = Some(*status);
            }
            // A job counts as having a call in flight once a mutating attempt was sent for it.
            EventKind::AttemptStarted {
                index: Some(index),
                call,
                ..
            } if call.is_mutation() => {
                self.started
                    .entry(*index)
                    .or_insert(Started {
                        at: event.at,
                        status: None,
                        mutations: 0,
                    })
                    .mutations += 1;
            }
            EventKind::JobFinished(record) => {
                let index = record.index;
                self.finished[index.entry][index.job] = true;
                self.started.remove(&index);
                if let Some(i) = Outcome::ALL.iter().position(|o| *o == record.outcome) {
                    self.summary.counts[i] += 1;
                }
            }
            EventKind::EntryFinished { entry, .. } => self.entry_finished[*entry] = true,
            EventKind::Throttled { .. } => self.summary.throttle_events += 1,
            EventKind::Retrying { .. } => self.summary.retries += 1,
            _ => {}
        }
    }
}

/// Runs `plan` against `controls` (one per target of the plan, in `plan.targets` order), reporting to
/// `reporters`, until done or `cancel` fires.
///
/// Never fails: per-job failures are outcomes, reporter failures are in the summary. The first
/// cancellation stops new work; in-flight calls get `options.grace` to finish.
pub async fn run<C: JobControl>(
    plan: ResolvedPlan,
    controls: Vec<Arc<C>>,
    mut reporters: ReporterSet,
    cancel: CancellationToken,
    options: RunOptions,
) -> RunSummary {
    assert_eq!(
        controls.len(),
        plan.targets.len(),
        "one job API per target of the plan"
    );
    let plan = Arc::new(plan);
    let start = Instant::now();
    let started_at = jiff::Timestamp::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let emitter = Emitter::new(tx, start);
    // Our own token: a failing reporter cancels the run without touching the caller's.
    let stop = cancel.child_token();
    let settings = &plan.settings;
    // Rates and throttling adaptation per target (AWS limits each account in each region); the
    // concurrency slots are the whole plan's.
    let slots = Limiter::slots(settings.concurrency);
    let sites: Vec<Site<C>> = controls
        .into_iter()
        .map(|control| {
            let caller = Caller {
                limiter: Arc::new(Limiter::sharing(
                    settings.rate_limit,
                    settings.poll_rate_limit,
                    slots.clone(),
                )),
                emitter: emitter.clone(),
                policy: options.retry.clone(),
                cancel: stop.clone(),
            };
            let poller = GatePoller::new(control.clone(), caller.clone(), settings.poll_interval);
            Site {
                control,
                caller,
                poller,
            }
        })
        .collect();
    let pollers: Vec<GatePoller<C>> = sites.iter().map(|site| site.poller.clone()).collect();
    let names: Vec<Arc<str>> = plan
        .entries
        .iter()
        .map(|e| Arc::from(e.name.as_str()))
        .collect();
    let journal_failed = Arc::new(std::sync::OnceLock::new());
    let ctx = Arc::new(Context {
        plan: plan.clone(),
        sites,
        emitter,
        journal: options.journal.clone(),
        names: names.clone(),
        cancel: stop.clone(),
        resume: options.resume.clone(),
        journal_failed: journal_failed.clone(),
        unmade: std::sync::OnceLock::new(),
    });

    let mut state = RunState {
        finished: plan
            .entries
            .iter()
            .map(|e| vec![false; e.jobs.len()])
            .collect(),
        started: std::collections::HashMap::new(),
        entry_finished: vec![false; plan.entries.len()],
        summary: RunSummary::default(),
    };
    let info = RunInfo {
        targets: plan.targets.clone(),
        mode: settings.mode,
        entries: names
            .iter()
            .cloned()
            .zip(plan.entries.iter().map(|e| e.jobs.len()))
            .collect(),
        total_jobs: plan.entries.iter().map(|e| e.jobs.len()).sum(),
    };
    let first = Event {
        at: started_at,
        elapsed: Duration::ZERO,
        kind: EventKind::RunStarted(Arc::new(info)),
    };
    deliver(&mut reporters, &mut state, &stop, &first);

    let poll_tasks: Vec<tokio::task::JoinHandle<()>> = pollers
        .into_iter()
        .map(|poller| tokio::spawn(poller.run()))
        .collect();
    let stop_polling = || poll_tasks.iter().for_each(|task| task.abort());
    let mut exec_task = tokio::spawn(scheduler::execute(ctx));
    let mut exec_done = false;
    let mut grace_until: Option<Instant> = None;
    let mut tick = tokio::time::interval(options.tick.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        // The grace period ends by itself, or at once on `abort`.
        let hard_stop = async {
            let grace = async {
                match grace_until {
                    Some(until) => tokio::time::sleep_until(until).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = grace => {}
                () = options.abort.cancelled() => {}
            }
        };
        tokio::select! {
            event = rx.recv() => match event {
                Some(event) => deliver(&mut reporters, &mut state, &stop, &event),
                None => break,
            },
            _ = tick.tick() => {
                let errors = reporters.tick(start.elapsed());
                fail_reporters(&mut state, &stop, errors);
            }
            _ = &mut exec_task, if !exec_done => {
                exec_done = true;
                // The pollers hold the last senders; the channel closes once they are gone.
                stop_polling();
            }
            () = stop.cancelled(), if grace_until.is_none() => {
                state.summary.interrupted = true;
                grace_until = Some(Instant::now() + options.grace);
            }
            () = hard_stop => {
                state.summary.interrupted = true;
                stop.cancel();
                exec_task.abort();
                stop_polling();
                while let Ok(event) = rx.try_recv() {
                    deliver(&mut reporters, &mut state, &stop, &event);
                }
                break;
            }
        }
    }
    // The last job can end (and the channel close) in the same turn as the interrupt: whichever branch
    // the loop took, a stopped run was interrupted.
    if stop.is_cancelled() {
        state.summary.interrupted = true;
    }
    finish_abandoned(&plan, &names, &mut reporters, &mut state, &stop, start);
    let last = Event {
        at: jiff::Timestamp::now(),
        elapsed: start.elapsed(),
        kind: EventKind::RunFinished {
            interrupted: state.summary.interrupted,
        },
    };
    deliver(&mut reporters, &mut state, &stop, &last);
    state.summary.journal_error = journal_failed.get().map(ToString::to_string);
    state.summary
}

/// Reports jobs and entries the executor never finished (it was dropped after the grace period).
fn finish_abandoned(
    plan: &ResolvedPlan,
    names: &[Arc<str>],
    reporters: &mut ReporterSet,
    state: &mut RunState,
    stop: &CancellationToken,
    start: Instant,
) {
    for (entry, jobs) in plan.entries.iter().enumerate() {
        for job in 0..jobs.jobs.len() {
            if state.finished[entry][job] {
                continue;
            }
            let index = JobIndex { entry, job };
            let mut record = not_run_record(
                plan,
                names,
                index,
                "interrupted before it finished".to_owned(),
            );
            // Keep what the job's events told: when it started, the status it was judged from and the
            // attempts it sent (each one took a permit and may have reached AWS).
            if let Some(started) = state.started.get(&index) {
                record.started_at = started.at;
                record.status_before = started.status.or(record.status_before);
                record.attempts = started.mutations;
            }
            if state
                .started
                .get(&index)
                .is_some_and(|started| started.mutations > 0)
            {
                record.outcome = Outcome::Failed;
                record.reason = Some(
                    "interrupted after its call was sent; its effect is unknown, check the job"
                        .to_owned(),
                );
            }
            let event = Event {
                at: jiff::Timestamp::now(),
                elapsed: start.elapsed(),
                kind: EventKind::JobFinished(Box::new(record)),
            };
            deliver(reporters, state, stop, &event);
        }
        if !state.entry_finished[entry] {
            let event = Event {
                at: jiff::Timestamp::now(),
                elapsed: start.elapsed(),
                kind: EventKind::EntryFinished {
                    entry,
                    succeeded: false,
                },
            };
            deliver(reporters, state, stop, &event);
        }
    }
}

fn deliver(
    reporters: &mut ReporterSet,
    state: &mut RunState,
    stop: &CancellationToken,
    event: &Event,
) {
    state.observe(event);
    let errors = reporters.report(event);
    fail_reporters(state, stop, errors);
}

fn fail_reporters(state: &mut RunState, stop: &CancellationToken, errors: Vec<ReportError>) {
    if !errors.is_empty() {
        for error in &errors {
            tracing::error!("{error}; stopping the run");
        }
        state.summary.reporter_errors.extend(errors);
        stop.cancel();
    }
}
