//! The sending side of the event channel: stamps each event with wall time and elapsed run time.
//!
//! Owns nothing but the channel and the run's start. The channel is unbounded on purpose: job futures and
//! the scheduler that polls them share one task, and a bounded channel's FIFO capacity queue can hand the
//! free slots to job futures the blocked scheduler is not polling — a deadlock seen at 40,000 jobs. The
//! coordinator drains events as fast as reporters take them (reporters only accumulate until
//! `RunFinished`). Does not own what is sent (`event.rs`) or who reads it (`coordinator.rs`).

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::event::{Event, EventKind};

/// Cheap to clone; every task that reports progress holds one.
#[derive(Debug, Clone)]
pub struct Emitter {
    tx: mpsc::UnboundedSender<Event>,
    start: Instant,
}

impl Emitter {
    /// Wraps `tx`; elapsed times are measured from `start`.
    pub fn new(tx: mpsc::UnboundedSender<Event>, start: Instant) -> Self {
        Self { tx, start }
    }

    /// An emitter whose events go nowhere: for calls made outside a run (resolution), through the same
    /// `Caller`, limiter and retry policy.
    pub fn detached() -> Self {
        let (tx, _rx) = mpsc::unbounded_channel();
        Self {
            tx,
            start: Instant::now(),
        }
    }

    /// Sends one event. Never waits; async so call sites stay the same should back-pressure return.
    pub async fn emit(&self, kind: EventKind) {
        let event = Event {
            at: jiff::Timestamp::now(),
            elapsed: self.start.elapsed(),
            kind,
        };
        // The coordinator outlives the executor; a closed channel means it was aborted, so dropping is right.
        let _ = self.tx.send(event);
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::*;

    /// The deadlock this prevents: with a bounded channel, a job future's `emit` waits for a free slot while
    /// the one task that would poll the reader side (coordinator and scheduler share it) is itself parked,
    /// and the run hangs. It needs the slots to be handed out in one precise order, which a run of the
    /// executor does not reproduce on demand. What rules it out is this: `emit` never waits, however many
    /// events nobody has read yet. A bounded channel (of any capacity below the count here) fails it at
    /// once, without timing.
    #[test]
    fn emit_never_waits_even_when_nobody_reads() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let emitter = Emitter::new(tx, Instant::now());
        for i in 0..200_000 {
            let sent = emitter
                .emit(EventKind::EntryFinished {
                    entry: i,
                    succeeded: true,
                })
                .now_or_never();
            assert!(sent.is_some(), "emit waited at event {i}");
        }
        let mut read = 0;
        while rx.try_recv().is_ok() {
            read += 1;
        }
        assert_eq!(read, 200_000, "every event reaches the reader, in the end");
    }
}
