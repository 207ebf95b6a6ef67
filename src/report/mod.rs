//! Reporters: consumers of run events (progress, summaries, report files), fanned out from one place.
//!
//! Owns the `Reporter` trait and [`ReporterSet`], which hands every event to each reporter and keeps going
//! when one fails (nextest `reporter/imp.rs`): the failure is returned so the coordinator can cancel the
//! run, and the other reporters still see every event. Does not own the event types (`event.rs`).

pub mod format;
pub mod json;
pub(crate) mod junit;
pub(crate) mod markdown;
pub mod progress;
pub mod run_record;
pub(crate) mod spool;
pub mod summary;

use crate::event::Event;

/// A reporter could not do its work (usually an I/O error writing its output).
#[derive(Debug, thiserror::Error)]
#[error("reporter `{reporter}` failed: {source}")]
pub struct ReportError {
    /// Which reporter.
    pub reporter: String,
    /// What went wrong.
    #[source]
    pub source: std::io::Error,
}

/// Consumes events. Called from the coordinator loop, in event order; must not block for long except at
/// `RunFinished`, when writers write their files.
pub trait Reporter: Send {
    /// A short name for errors (`json`, `progress`).
    fn name(&self) -> &str;
    /// Handles one event.
    fn report(&mut self, event: &Event) -> Result<(), std::io::Error>;

    /// Called on the coordinator's tick (every `RunOptions::tick`) with the run's elapsed time, so a
    /// progress display can redraw between events.
    fn tick(&mut self, elapsed: std::time::Duration) -> Result<(), std::io::Error> {
        let _ = elapsed;
        Ok(())
    }
}

/// Every reporter of a run. A reporter that failed gets no more events; the others go on.
#[derive(Default)]
pub struct ReporterSet {
    reporters: Vec<(Box<dyn Reporter>, bool)>,
}

impl std::fmt::Debug for ReporterSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.reporters.iter().map(|(r, _)| r.name()).collect();
        f.debug_struct("ReporterSet")
            .field("reporters", &names)
            .finish()
    }
}

impl ReporterSet {
    /// No reporters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a reporter; it sees events in the order they happen.
    pub fn add(&mut self, reporter: impl Reporter + 'static) -> &mut Self {
        self.reporters.push((Box::new(reporter), false));
        self
    }

    /// Hands `event` to every working reporter; returns the failures of this event.
    pub fn report(&mut self, event: &Event) -> Vec<ReportError> {
        self.each(|reporter| reporter.report(event))
    }

    /// Ticks every working reporter; returns the failures.
    pub fn tick(&mut self, elapsed: std::time::Duration) -> Vec<ReportError> {
        self.each(|reporter| reporter.tick(elapsed))
    }

    fn each(
        &mut self,
        mut call: impl FnMut(&mut dyn Reporter) -> Result<(), std::io::Error>,
    ) -> Vec<ReportError> {
        let mut errors = Vec::new();
        for (reporter, failed) in &mut self.reporters {
            if *failed {
                continue;
            }
            if let Err(source) = call(reporter.as_mut()) {
                *failed = true;
                errors.push(ReportError {
                    reporter: reporter.name().to_owned(),
                    source,
                });
            }
        }
        errors
    }
}
