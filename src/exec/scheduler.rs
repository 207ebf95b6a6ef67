//! The scheduler: which jobs run when.
//!
//! Starts entries when their `after:` entries succeeded (else their jobs end `not_run`), keeps at most
//! [`MAX_ACTIVE_JOBS`] job futures alive at once (fewer when no job waits for a gate) (100,000 jobs never become 100,000 tasks), emits
//! `JobFinished` and `EntryFinished`, and on interruption starts nothing new. Does not own a job's life
//! (`executor.rs`) or the event loop (`coordinator.rs`).

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::api::JobControl;
use crate::event::{EventKind, JobIndex};
use crate::exec::executor::{Context, not_run_record, run_job};
use crate::exec::job_queue::JobQueue;
use crate::resolved::ResolvedPlan;

/// Job futures alive at once. Waiting jobs hold a slot, so an entry with more gated jobs than this polls
/// the rest one round later.
pub const MAX_ACTIVE_JOBS: usize = 16_384;

/// Job futures alive at once in a plan without gates, per target and per call in flight: such a job only
/// waits for its limiter permit, and at most `concurrency` calls are in flight, so slots beyond a few times
/// that buy nothing but memory (a few KiB each).
const UNGATED_SLOTS_PER_CALL: usize = 4;

/// The fewest job futures alive at once in a plan without gates, so jobs that need no call (already at
/// target, dry run) never wait for a slot behind a small `concurrency`.
const MIN_UNGATED_SLOTS: usize = 1_024;

/// How many job futures `plan` keeps alive at once: [`MAX_ACTIVE_JOBS`] when a job may wait for a gate (it
/// holds its slot while it waits), else a few per call in flight and target.
fn active_slots(plan: &ResolvedPlan) -> usize {
    if plan.entries.iter().any(|e| e.gate.is_some()) {
        return MAX_ACTIVE_JOBS;
    }
    let per_target = (plan.settings.concurrency as usize)
        .saturating_mul(UNGATED_SLOTS_PER_CALL)
        .max(MIN_UNGATED_SLOTS);
    per_target
        .saturating_mul(plan.targets.len().max(1))
        .min(MAX_ACTIVE_JOBS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryState {
    Pending,
    Running { remaining: usize, failed: bool },
    Finished { succeeded: bool },
}

/// Runs every entry of the plan; returns when every job has a `JobFinished` event.
pub async fn execute<C: JobControl>(ctx: Arc<Context<C>>) {
    let plan = ctx.plan.clone();
    let emitter = ctx.emitter.clone();
    let mut entries = vec![EntryState::Pending; plan.entries.len()];
    let mut queue = JobQueue::default();
    let mut active = FuturesUnordered::new();
    let mut interrupted = false;
    // Entries that will not run, with why: their jobs' records are made one at a time as they are sent
    // (an entry of a million jobs must not become a million records at once).
    let mut not_run: Vec<(usize, String)> = Vec::new();
    let mut entries_done: Vec<(usize, bool)> = Vec::new();
    let slots = active_slots(&plan);

    start_entries(
        &plan,
        &ctx.names,
        &mut entries,
        &mut queue,
        &mut not_run,
        &mut entries_done,
        &emitter,
    )
    .await;
    loop {
        for (entry, reason) in not_run.drain(..) {
            for job in 0..plan.entries[entry].jobs.len() {
                let record =
                    not_run_record(&plan, &ctx.names, JobIndex { entry, job }, reason.clone());
                emitter.emit(EventKind::JobFinished(Box::new(record))).await;
            }
        }
        for (entry, succeeded) in entries_done.drain(..) {
            emitter
                .emit(EventKind::EntryFinished { entry, succeeded })
                .await;
        }
        while !interrupted && active.len() < slots {
            let Some(index) = queue.pop_front() else {
                break;
            };
            active.push(run_job(ctx.clone(), index));
        }
        if active.is_empty() && (queue.is_empty() || interrupted) {
            break;
        }
        tokio::select! {
            Some(record) = active.next() => {
                let index = record.index;
                let success = record.outcome.is_success();
                emitter.emit(EventKind::JobFinished(Box::new(record))).await;
                if let EntryState::Running { remaining, failed } = &mut entries[index.entry] {
                    *remaining -= 1;
                    *failed |= !success;
                    if *remaining == 0 {
                        let succeeded = !*failed;
                        entries[index.entry] = EntryState::Finished { succeeded };
                        emitter.emit(EventKind::EntryFinished { entry: index.entry, succeeded }).await;
                        if !interrupted {
                            start_entries(&plan, &ctx.names, &mut entries, &mut queue, &mut not_run, &mut entries_done, &emitter).await;
                        }
                    }
                }
            }
            () = ctx.cancel.cancelled(), if !interrupted => interrupted = true,
        }
    }
    // Whatever never started ends `not_run`: queued jobs, and entries whose turn never came.
    let reason = if interrupted {
        "interrupted before it started"
    } else {
        "its `after:` entries never finished (dependency cycle)"
    };
    for index in std::mem::take(&mut queue) {
        let record = not_run_record(&plan, &ctx.names, index, reason.to_owned());
        emitter.emit(EventKind::JobFinished(Box::new(record))).await;
    }
    for (entry_index, state) in entries.iter().enumerate() {
        match state {
            EntryState::Finished { .. } => {}
            EntryState::Running { .. } | EntryState::Pending => {
                if *state == EntryState::Pending {
                    for job in 0..plan.entries[entry_index].jobs.len() {
                        let index = JobIndex {
                            entry: entry_index,
                            job,
                        };
                        let record = not_run_record(&plan, &ctx.names, index, reason.to_owned());
                        emitter.emit(EventKind::JobFinished(Box::new(record))).await;
                    }
                }
                emitter
                    .emit(EventKind::EntryFinished {
                        entry: entry_index,
                        succeeded: false,
                    })
                    .await;
            }
        }
    }
}

/// Starts every pending entry whose dependencies all succeeded; ends `not_run` those with a failed one.
async fn start_entries(
    plan: &ResolvedPlan,
    names: &[Arc<str>],
    entries: &mut [EntryState],
    queue: &mut JobQueue,
    not_run: &mut Vec<(usize, String)>,
    done: &mut Vec<(usize, bool)>,
    emitter: &crate::exec::emitter::Emitter,
) {
    let mut changed = true;
    while changed {
        changed = false;
        for (index, entry) in plan.entries.iter().enumerate() {
            if entries[index] != EntryState::Pending {
                continue;
            }
            let failed_dep = entry.after.iter().find(|&&dep| {
                matches!(
                    entries.get(dep),
                    Some(EntryState::Finished { succeeded: false })
                )
            });
            if let Some(&dep) = failed_dep {
                not_run.push((
                    index,
                    format!("`after:` entry `{}` did not succeed", names[dep]),
                ));
                entries[index] = EntryState::Finished { succeeded: false };
                done.push((index, false));
                changed = true;
                continue;
            }
            let ready = entry.after.iter().all(|&dep| {
                matches!(
                    entries.get(dep),
                    Some(EntryState::Finished { succeeded: true })
                )
            });
            if !ready {
                continue;
            }
            emitter.emit(EventKind::EntryStarted { entry: index }).await;
            changed = true;
            if entry.jobs.is_empty() {
                entries[index] = EntryState::Finished { succeeded: true };
                done.push((index, true));
                continue;
            }
            entries[index] = EntryState::Running {
                remaining: entry.jobs.len(),
                failed: false,
            };
            queue.push_entry(index, entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::api::{AccountId, JobStatus, TargetStatus};
    use crate::resolved::{Action, Gate, GateSubject, ResolvedEntry, RunMode, RunSettings, Target};

    fn plan(concurrency: u32, targets: usize, gate: bool) -> ResolvedPlan {
        let target = Target {
            name: None,
            account_id: AccountId::parse("111122223333").unwrap(),
            region: "us-east-1".to_owned(),
            endpoint: None,
        };
        ResolvedPlan {
            targets: vec![target; targets],
            settings: RunSettings {
                concurrency,
                rate_limit: 100.0,
                poll_rate_limit: 10.0,
                poll_interval: Duration::from_secs(5),
                mode: RunMode::Apply,
            },
            entries: vec![ResolvedEntry {
                name: "cancel".to_owned(),
                after: Vec::new(),
                jobs: Vec::new(),
                gate: gate.then(|| Gate {
                    subject: GateSubject::OwnStatus,
                    statuses: vec![JobStatus::Suspended],
                    timeout: Duration::from_secs(60),
                    tasks: None,
                }),
                actions: vec![Action::SetStatus(TargetStatus::Cancelled)],
                reason: None,
            }],
        }
    }

    #[test]
    fn job_slots_shrink_to_a_few_per_call_in_flight_only_when_no_job_waits_for_a_gate() {
        for (concurrency, targets, gate, slots) in [
            (256, 1, false, 1_024),
            (16, 1, false, MIN_UNGATED_SLOTS),
            (1_024, 1, false, 4_096),
            (256, 3, false, 3_072),
            (1_024, 400, false, MAX_ACTIVE_JOBS),
            (256, 1, true, MAX_ACTIVE_JOBS),
            (16, 1, true, MAX_ACTIVE_JOBS),
        ] {
            assert_eq!(
                active_slots(&plan(concurrency, targets, gate)),
                slots,
                "concurrency {concurrency}, {targets} targets, gate {gate}"
            );
        }
    }
}
