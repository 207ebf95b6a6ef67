//! One read of a set of jobs: ListJobs pages where they are cheaper, DescribeJob for what they did not show.
//!
//! Owns how a set of known job ids is read now: either one DescribeJob per job, or a paginated ListJobs
//! (1,000 per page, filtered to the statuses the jobs are expected in plus every non-terminal one) that keeps
//! only the wanted jobs, followed by a DescribeJob for each wanted job the listing did not show (it moved to a
//! status outside the filter, or is gone: the DescribeJob answer says which). N jobs that are listed cost
//! about N / 1,000 reads instead of N. The gate poller sweeps its watched jobs every round; a saved plan's
//! re-check sweeps its jobs once. Does not judge what was read (`poller.rs` delivers gates, `saved.rs` compares
//! with the review).

use std::collections::{HashMap, HashSet};

use futures::StreamExt;

use crate::api::{ApiCall, ApiError, JobControl, JobId, JobStatus, Progress};
use crate::exec::retry::Caller;

/// ListJobs page size (the API's maximum).
const PAGE_SIZE: i32 = 1000;
/// DescribeJob calls in flight at once within one sweep.
const DESCRIBE_PARALLELISM: usize = 16;

/// A job as a sweep read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Its status.
    pub status: JobStatus,
    /// Its priority.
    pub priority: i32,
    /// Its task counters.
    pub progress: Progress,
    /// Its `FailureReasons` as `code: reason`, when it was read with DescribeJob (ListJobs does not carry
    /// them).
    pub failure_reasons: Option<Vec<String>>,
}

/// What the sweep knows of the listing's length before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pages {
    /// Pages the last listing took: list when more jobs are wanted than that, and read pages until every
    /// wanted job was seen or the listing ends.
    Known(u32),
    /// Nothing: list when more than one job is wanted, and stop listing once the pages read reach the
    /// wanted jobs still unseen (describing those costs no more than the next pages might), so a listing
    /// much longer than the wanted jobs costs at most about twice what describing each job would.
    Unknown,
}

/// What one sweep read.
#[derive(Debug)]
pub(crate) struct Sweep {
    /// Every wanted job: as seen, or the error of its DescribeJob.
    pub seen: HashMap<JobId, Result<Seen, ApiError>>,
    /// Attempts sent, ListJobs and DescribeJob, retries included.
    pub reads: u32,
    /// Whether ListJobs was used.
    pub listed: bool,
    /// ListJobs pages answered (0 when not listed, or when the listing failed at once).
    pub pages: u32,
}

/// Reads every job of `wanted` once: by ListJobs (filtered to `expected` plus the non-terminal statuses)
/// when [`Pages`] says that costs fewer reads, then DescribeJob for each wanted job the listing did not show.
/// A failed listing leaves the rest to DescribeJob.
pub(crate) async fn sweep<C: JobControl>(
    control: &C,
    caller: &Caller,
    wanted: &[JobId],
    expected: &[JobStatus],
    pages: Pages,
) -> Sweep {
    let wanted: HashSet<&JobId> = wanted.iter().collect();
    let list = match pages {
        Pages::Known(pages) => wanted.len() > pages as usize,
        Pages::Unknown => wanted.len() > 1,
    };
    let mut sweep = Sweep {
        seen: HashMap::with_capacity(wanted.len()),
        reads: 0,
        listed: list,
        pages: 0,
    };
    if list {
        let mut statuses: Vec<JobStatus> = expected
            .iter()
            .copied()
            .chain(JobStatus::ALL.into_iter().filter(|s| !s.is_terminal()))
            .collect();
        statuses.sort();
        statuses.dedup();
        let stop_early = pages == Pages::Unknown;
        list_into(control, caller, &statuses, &wanted, stop_early, &mut sweep).await;
    }
    // Owned ids: with borrowed ones the future the poller spawns fails the compiler's check that it is `Send`
    // for every lifetime.
    let missing: Vec<JobId> = wanted
        .into_iter()
        .filter(|id| !sweep.seen.contains_key(*id))
        .cloned()
        .collect();
    let described: Vec<(JobId, Result<Seen, ApiError>, u32)> = futures::stream::iter(missing)
        .map(|id| async move {
            let called = caller
                .call(ApiCall::DescribeJob, None, |_| control.describe_job(&id))
                .await;
            let seen = called.result.map(|answer| {
                let job = answer.value.summary;
                Seen {
                    status: job.status,
                    priority: job.priority,
                    progress: job.progress,
                    failure_reasons: Some(answer.value.failure_reasons),
                }
            });
            (id, seen, called.attempts)
        })
        .buffer_unordered(DESCRIBE_PARALLELISM)
        .collect()
        .await;
    for (id, seen, attempts) in described {
        sweep.reads += attempts;
        sweep.seen.insert(id, seen);
    }
    sweep
}

/// Lists pages with `statuses` into `sweep`, keeping only the `wanted` jobs with their status, priority and
/// task counters (ListJobs carries `ProgressSummary`, so a task condition costs no extra read). Stops when
/// every wanted job was seen, the listing ends or fails, or (`stop_early`) the pages read reach the wanted
/// jobs still unseen.
async fn list_into<C: JobControl>(
    control: &C,
    caller: &Caller,
    statuses: &[JobStatus],
    wanted: &HashSet<&JobId>,
    stop_early: bool,
    sweep: &mut Sweep,
) {
    let mut token: Option<String> = None;
    loop {
        let called = caller
            .call(ApiCall::ListJobs, None, |_| {
                control.list_jobs(statuses, token.as_deref(), PAGE_SIZE)
            })
            .await;
        sweep.reads += called.attempts;
        let answer = match called.result {
            Ok(answer) => answer,
            Err(error) => {
                // A role allowed DescribeJob but not ListJobs still gets every job read, one at a time.
                tracing::info!("{error}; reading the jobs not listed yet with DescribeJob");
                return;
            }
        };
        sweep.pages += 1;
        for job in answer.value.jobs {
            if wanted.contains(&job.id) {
                sweep.seen.insert(
                    job.id,
                    Ok(Seen {
                        status: job.status,
                        priority: job.priority,
                        progress: job.progress,
                        failure_reasons: None,
                    }),
                );
            }
        }
        let unseen = wanted.len() - sweep.seen.len();
        if unseen == 0 || (stop_early && sweep.pages as usize >= unseen) {
            return;
        }
        match answer.value.next_token {
            Some(next) if !next.is_empty() && Some(&next) != token.as_ref() => token = Some(next),
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::api::fake::{FakeJobControl, Fault};
    use crate::exec::emitter::Emitter;
    use crate::exec::limiter::Limiter;
    use crate::exec::retry::RetryPolicy;

    fn caller() -> Caller {
        Caller {
            limiter: Arc::new(Limiter::new(1000.0, 1000.0, 8)),
            emitter: Emitter::detached(),
            policy: RetryPolicy::default(),
            cancel: CancellationToken::new(),
        }
    }

    fn jobs(fake: &FakeJobControl, prefix: &str, n: usize, status: JobStatus) -> Vec<JobId> {
        (0..n)
            .map(|i| fake.add_job(&format!("{prefix}-{i:05}"), status))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn listed_jobs_cost_a_page_per_thousand_and_the_rest_one_describe_each() {
        let fake = FakeJobControl::new();
        let mut wanted = jobs(&fake, "want", 2500, JobStatus::Suspended);
        // Moved out of the filter since they were expected, and gone: both are described.
        let done = jobs(&fake, "done", 2, JobStatus::Complete);
        wanted.extend(done.iter().cloned());
        wanted.push(JobId::parse("gone-00001").unwrap());
        let sweep = sweep(
            &fake,
            &caller(),
            &wanted,
            &[JobStatus::Suspended],
            Pages::Unknown,
        )
        .await;
        assert_eq!(fake.calls(ApiCall::ListJobs), 3);
        assert_eq!(fake.calls(ApiCall::DescribeJob), 3);
        assert_eq!((sweep.reads, sweep.pages, sweep.listed), (6, 3, true));
        assert_eq!(sweep.seen.len(), 2503);
        assert_eq!(
            sweep.seen[&done[0]].as_ref().unwrap().status,
            JobStatus::Complete
        );
        assert_eq!(
            sweep.seen[&JobId::parse("gone-00001").unwrap()]
                .as_ref()
                .unwrap_err()
                .kind,
            crate::api::ApiErrorKind::NotFound
        );
    }

    #[tokio::test(start_paused = true)]
    async fn listing_stops_once_every_wanted_job_was_seen() {
        let fake = FakeJobControl::new();
        // The fake lists in id order: the wanted jobs come first, 5,000 others after them.
        let wanted = jobs(&fake, "a-want", 1500, JobStatus::Active);
        jobs(&fake, "b-other", 5000, JobStatus::Active);
        for pages in [Pages::Unknown, Pages::Known(1)] {
            let before = fake.calls(ApiCall::ListJobs);
            let sweep = sweep(&fake, &caller(), &wanted, &[], pages).await;
            assert_eq!(fake.calls(ApiCall::ListJobs) - before, 2, "{pages:?}");
            assert_eq!(sweep.seen.len(), 1500);
        }
        assert_eq!(fake.calls(ApiCall::DescribeJob), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_listing_much_longer_than_the_wanted_jobs_is_cut_short() {
        let fake = FakeJobControl::new();
        jobs(&fake, "a-other", 20_000, JobStatus::Active);
        let wanted = jobs(&fake, "b-want", 5, JobStatus::Active);
        let sweep = sweep(&fake, &caller(), &wanted, &[], Pages::Unknown).await;
        // 5 pages read (none shows a wanted job), then the 5 are described: 10 reads, not 26 pages.
        assert_eq!(fake.calls(ApiCall::ListJobs), 5);
        assert_eq!(fake.calls(ApiCall::DescribeJob), 5);
        assert_eq!(sweep.reads, 10);
        assert!(sweep.seen.values().all(Result::is_ok));
    }

    #[tokio::test(start_paused = true)]
    async fn few_jobs_are_described_without_listing() {
        let fake = FakeJobControl::new();
        let wanted = jobs(&fake, "want", 3, JobStatus::Suspended);
        let one = sweep(&fake, &caller(), &wanted[..1], &[], Pages::Unknown).await;
        assert!(!one.listed);
        let three = sweep(&fake, &caller(), &wanted, &[], Pages::Known(3)).await;
        assert!(!three.listed);
        assert_eq!(fake.calls(ApiCall::ListJobs), 0);
        assert_eq!(fake.calls(ApiCall::DescribeJob), 4);
        assert_eq!(
            three.seen[&wanted[2]].as_ref().unwrap().failure_reasons,
            Some(Vec::new())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_listing_leaves_every_job_to_describejob() {
        let fake = FakeJobControl::new();
        let wanted = jobs(&fake, "want", 50, JobStatus::Suspended);
        fake.fail_next(ApiCall::ListJobs, 1, Fault::AccessDenied);
        let sweep = sweep(&fake, &caller(), &wanted, &[], Pages::Unknown).await;
        assert_eq!((sweep.listed, sweep.pages), (true, 0));
        assert_eq!(fake.calls(ApiCall::DescribeJob), 50);
        assert_eq!(sweep.reads, 51);
        assert!(sweep.seen.values().all(Result::is_ok));
    }

    #[tokio::test(start_paused = true)]
    async fn the_filter_holds_the_expected_and_every_non_terminal_status() {
        let fake = FakeJobControl::new();
        let mut wanted = jobs(&fake, "cancelled", 2, JobStatus::Cancelled);
        wanted.extend(jobs(&fake, "failed", 2, JobStatus::Failed));
        wanted.extend(jobs(&fake, "paused", 2, JobStatus::Paused));
        sweep(
            &fake,
            &caller(),
            &wanted,
            &[JobStatus::Cancelled],
            Pages::Unknown,
        )
        .await;
        // Cancelled (expected) and Paused (non-terminal) are listed; Failed is outside the filter.
        assert_eq!(fake.calls(ApiCall::ListJobs), 1);
        assert_eq!(fake.calls(ApiCall::DescribeJob), 2);
        for id in &wanted[2..4] {
            assert_eq!(fake.job_calls(id, ApiCall::DescribeJob), 1, "{id}");
        }
    }
}
