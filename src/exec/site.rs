//! One target's share of a run: its API client, its limits and its gate poller.
//!
//! AWS applies its rate limits per account and region, so each target of a plan gets its own lanes (and its
//! own throttling adaptation) and its own poller (ListJobs sweeps list one account in one region), while
//! the plan's `concurrency` slots are shared by all of them. Does not own what a job does (`executor.rs`).

use std::sync::Arc;

use crate::exec::poller::GatePoller;
use crate::exec::retry::Caller;

/// The API, limits and poller of one target of a run.
pub struct Site<C> {
    /// The job API of the target's account in its region.
    pub control: Arc<C>,
    /// Attempts under the target's limits (and the run's retry policy and events).
    pub caller: Caller,
    /// The target's gate poller.
    pub poller: GatePoller<C>,
}
