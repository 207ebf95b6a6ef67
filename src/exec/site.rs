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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::api::fake::FakeJobControl;
    use crate::api::{AccountId, ApiCall, JobStatus, TargetStatus};
    use crate::exec::{Outcome, RunOptions, run};
    use crate::report::ReporterSet;
    use crate::resolved::{
        Action, ResolvedEntry, ResolvedJob, ResolvedPlan, RunMode, RunSettings, Target,
    };

    fn target(name: &str, account: &str, region: &str) -> Target {
        Target {
            name: Some(name.to_owned()),
            account_id: AccountId::parse(account).unwrap(),
            region: region.to_owned(),
            endpoint: None,
        }
    }

    /// Two targets at `rate_limit: 20` with 400 jobs each finish together in about 20 s, not 40 s: each
    /// target has its own rate (AWS limits each account in each region), and the entry's jobs are queued
    /// taking the targets in turn. On Tokio's paused clock, so the figure is exact, not timed.
    #[tokio::test(start_paused = true)]
    async fn two_targets_run_at_their_own_rate_side_by_side() {
        let fakes = [
            Arc::new(FakeJobControl::new()),
            Arc::new(FakeJobControl::new()),
        ];
        let mut jobs = Vec::new();
        for (t, fake) in fakes.iter().enumerate() {
            for n in 0..400 {
                jobs.push(ResolvedJob {
                    target: crate::resolved::target_index(t),
                    id: fake.add_job(&format!("job-{t}-{n:03}"), JobStatus::Suspended),
                    description: None,
                    status_seen: JobStatus::Suspended,
                    priority_seen: 10,
                    progress_seen: Default::default(),
                });
            }
        }
        let plan = ResolvedPlan {
            targets: vec![
                target("prod-us", "111122223333", "us-east-1"),
                target("prod-eu", "111122223333", "eu-west-1"),
            ],
            settings: RunSettings {
                concurrency: 8,
                rate_limit: 20.0,
                poll_rate_limit: 20.0,
                poll_interval: Duration::from_secs(5),
                mode: RunMode::Apply,
            },
            entries: vec![ResolvedEntry {
                name: "cancel-all".to_owned(),
                after: Vec::new(),
                jobs,
                gate: None,
                actions: vec![Action::SetStatus(TargetStatus::Cancelled)],
                reason: None,
            }],
        };
        let start = tokio::time::Instant::now();
        let summary = run(
            plan,
            fakes.to_vec(),
            ReporterSet::new(),
            CancellationToken::new(),
            RunOptions::default(),
        )
        .await;
        let took = start.elapsed();
        assert_eq!(summary.count(Outcome::Applied), 800);
        for fake in &fakes {
            assert_eq!(fake.calls(ApiCall::UpdateJobStatus), 400);
        }
        // 400 calls at 20/s are 20 s in each target; one shared rate would take 40 s.
        assert!(
            took >= Duration::from_secs(19) && took <= Duration::from_secs(22),
            "took {took:?}"
        );
    }
}
