//! The queue of jobs waiting to start: whole entries, in the order they started, each walked job by job.
//!
//! An entry is queued as a cursor, not as a list of its jobs: an entry of a million jobs in one target
//! costs a few words instead of a million job indexes. An entry over several targets keeps the order it
//! takes its jobs in (each target in turn) as one 32-bit position per job. Does not start jobs
//! (`scheduler.rs`).

use std::collections::VecDeque;

use crate::event::JobIndex;
use crate::resolved::ResolvedEntry;

/// Jobs waiting to start, in the order they start.
#[derive(Debug, Default)]
pub(crate) struct JobQueue {
    entries: VecDeque<Queued>,
}

/// One entry's jobs not yet started.
#[derive(Debug)]
struct Queued {
    entry: usize,
    order: Order,
    /// How many of `order` were taken.
    taken: usize,
}

/// The order an entry's jobs start in.
#[derive(Debug)]
enum Order {
    /// Plan order: the entry's jobs all run in one target.
    Plain(usize),
    /// Each target in turn (its first job of every target, then its second, ...), so an entry over many
    /// targets starts work in all of them at once instead of one target after another (each target has its
    /// own rate: an order by target would leave most rates idle).
    Interleaved(Vec<u32>),
}

impl Order {
    fn of(entry: &ResolvedEntry) -> Self {
        let first = entry.jobs.first().map(|job| job.target);
        let one_target = entry.jobs.iter().all(|job| Some(job.target) == first);
        match u32::try_from(entry.jobs.len()) {
            Ok(_) if !one_target => Self::Interleaved(interleaved_by_target(entry)),
            // A single entry of four billion jobs keeps plan order rather than fail.
            _ => Self::Plain(entry.jobs.len()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Plain(len) => *len,
            Self::Interleaved(order) => order.len(),
        }
    }

    fn get(&self, at: usize) -> Option<usize> {
        match self {
            Self::Plain(len) => (at < *len).then_some(at),
            Self::Interleaved(order) => order.get(at).map(|job| *job as usize),
        }
    }
}

impl JobQueue {
    /// Queues every job of `entry` (the plan's entry at `index`) behind what is already queued.
    pub(crate) fn push_entry(&mut self, index: usize, entry: &ResolvedEntry) {
        let order = Order::of(entry);
        if order.len() > 0 {
            self.entries.push_back(Queued {
                entry: index,
                order,
                taken: 0,
            });
        }
    }

    /// The next job to start.
    pub(crate) fn pop_front(&mut self) -> Option<JobIndex> {
        loop {
            let queued = self.entries.front_mut()?;
            if let Some(job) = queued.order.get(queued.taken) {
                queued.taken += 1;
                return Some(JobIndex {
                    entry: queued.entry,
                    job,
                });
            }
            self.entries.pop_front();
        }
    }

    /// Whether no job waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.iter().all(|q| q.taken >= q.order.len())
    }
}

impl Iterator for JobQueue {
    type Item = JobIndex;

    fn next(&mut self) -> Option<JobIndex> {
        self.pop_front()
    }
}

/// An entry's job positions taking each target in turn; targets in the order of their index.
fn interleaved_by_target(entry: &ResolvedEntry) -> Vec<u32> {
    let mut by_target: std::collections::BTreeMap<usize, VecDeque<u32>> = Default::default();
    for (job, resolved) in entry.jobs.iter().enumerate() {
        if let Ok(job) = u32::try_from(job) {
            by_target
                .entry(resolved.target())
                .or_default()
                .push_back(job);
        }
    }
    let mut lanes: Vec<VecDeque<u32>> = by_target.into_values().collect();
    let mut order = Vec::with_capacity(entry.jobs.len());
    let mut turn = 0;
    while !lanes.is_empty() {
        turn %= lanes.len();
        if let Some(job) = lanes[turn].pop_front() {
            order.push(job);
            turn += 1;
        } else {
            lanes.remove(turn);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{JobId, JobStatus};
    use crate::resolved::ResolvedJob;

    fn entry(targets: &[usize]) -> ResolvedEntry {
        ResolvedEntry {
            name: "e".to_owned(),
            after: Vec::new(),
            jobs: targets
                .iter()
                .enumerate()
                .map(|(i, &target)| ResolvedJob {
                    target: crate::resolved::target_index(target),
                    id: JobId::parse(&format!("job-{i:04}")).unwrap(),
                    description: None,
                    status_seen: JobStatus::Suspended,
                    priority_seen: 10,
                    progress_seen: Default::default(),
                })
                .collect(),
            gate: None,
            actions: Vec::new(),
            reason: None,
        }
    }

    fn taken(queue: &mut JobQueue) -> Vec<(usize, usize)> {
        queue.map(|index| (index.entry, index.job)).collect()
    }

    #[test]
    fn entries_start_in_turn_and_one_target_keeps_plan_order() {
        let mut queue = JobQueue::default();
        assert!(queue.is_empty());
        queue.push_entry(2, &entry(&[0, 0, 0]));
        queue.push_entry(0, &entry(&[]));
        queue.push_entry(1, &entry(&[5, 5]));
        assert!(!queue.is_empty());
        assert_eq!(queue.pop_front().map(|i| (i.entry, i.job)), Some((2, 0)));
        assert_eq!(taken(&mut queue), [(2, 1), (2, 2), (1, 0), (1, 1)]);
        assert!(queue.is_empty());
        assert_eq!(queue.pop_front(), None);
    }

    #[test]
    fn an_entry_over_several_targets_takes_each_target_in_turn() {
        let mut queue = JobQueue::default();
        // Targets 1, 0, 1, 1, 2, 0: target 0 first (lowest index), then 1, then 2, round after round.
        queue.push_entry(0, &entry(&[1, 0, 1, 1, 2, 0]));
        assert_eq!(
            taken(&mut queue),
            [(0, 1), (0, 0), (0, 4), (0, 5), (0, 2), (0, 3)]
        );
    }
}
