//! The scheduler: which jobs run when.
//!
//! Starts entries when their `after:` entries succeeded (else their jobs end `not_run`), keeps at most
//! [`MAX_ACTIVE_JOBS`] job futures alive at once (100,000 jobs never become 100,000 tasks), emits
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
        while !interrupted && active.len() < MAX_ACTIVE_JOBS {
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
