//! The lifecycle driven by the simulated clock, pagination while jobs change status, and determinism.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use aws_sdk_s3control::types::{JobStatus, RequestedJobStatus};
use s3plan::sandbox::{Sandbox, Seed};

use crate::sandbox_ops::create_request;
use crate::sandbox_support::*;

#[tokio::test]
async fn created_job_walks_the_whole_lifecycle_on_a_fast_clock() {
    let sandbox = Sandbox::builder().speed(0.0).start().await.unwrap();
    let c = client(&sandbox.url());
    let id = create_request(&c)
        .send()
        .await
        .unwrap()
        .job_id()
        .unwrap()
        .to_owned();
    let describe = || async {
        c.describe_job()
            .account_id(ACCOUNT)
            .job_id(&id)
            .send()
            .await
            .unwrap()
            .job()
            .cloned()
            .unwrap()
    };
    assert_eq!(describe().await.status(), Some(&JobStatus::New));
    sandbox.advance(Duration::from_secs(3));
    assert_eq!(describe().await.status(), Some(&JobStatus::Preparing));
    sandbox.advance(Duration::from_secs(10));
    let suspended = describe().await;
    assert_eq!(suspended.status(), Some(&JobStatus::Suspended));
    assert!(suspended.suspended_date().is_some());
    // Suspended waits for confirmation however long it takes.
    sandbox.advance(Duration::from_secs(86_400));
    assert_eq!(describe().await.status(), Some(&JobStatus::Suspended));
    c.update_job_status()
        .account_id(ACCOUNT)
        .job_id(&id)
        .requested_job_status(RequestedJobStatus::Ready)
        .send()
        .await
        .unwrap();
    assert_eq!(describe().await.status(), Some(&JobStatus::Ready));
    sandbox.advance(Duration::from_secs(5));
    let active = describe().await;
    assert_eq!(active.status(), Some(&JobStatus::Active));
    sandbox.advance(Duration::from_secs(150));
    let half = describe().await;
    let progress = half.progress_summary().unwrap();
    assert_eq!(progress.number_of_tasks_succeeded(), Some(50));
    assert_eq!(
        progress.timers().unwrap().elapsed_time_in_active_seconds(),
        Some(150)
    );
    // Confirming a running job is refused.
    assert!(
        c.update_job_status()
            .account_id(ACCOUNT)
            .job_id(&id)
            .requested_job_status(RequestedJobStatus::Ready)
            .send()
            .await
            .is_err()
    );
    sandbox.advance(Duration::from_secs(151));
    assert_eq!(describe().await.status(), Some(&JobStatus::Completing));
    sandbox.advance(Duration::from_secs(3));
    let done = describe().await;
    assert_eq!(done.status(), Some(&JobStatus::Complete));
    assert!(done.termination_date().is_some());
    assert_eq!(
        done.progress_summary().unwrap().number_of_tasks_succeeded(),
        Some(100)
    );
    // Terminal: never changes again, until retention hides it (90 days).
    sandbox.advance(Duration::from_secs(89 * 86_400));
    assert_eq!(describe().await.status(), Some(&JobStatus::Complete));
    sandbox.advance(Duration::from_secs(2 * 86_400));
    let gone = c
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.raw_response().map(|r| r.status().as_u16()), Some(404));
}

#[tokio::test]
async fn a_fast_running_clock_moves_jobs_without_explicit_advances() {
    // 100 000 sandbox seconds per real second: the 5-minute active phase takes 3 ms.
    let sandbox = Sandbox::builder().speed(100_000.0).start().await.unwrap();
    let c = client(&sandbox.url());
    let id = create_request(&c)
        .confirmation_required(false)
        .send()
        .await
        .unwrap()
        .job_id()
        .unwrap()
        .to_owned();
    let mut seen = Vec::new();
    for _ in 0..2000 {
        let job = c
            .describe_job()
            .account_id(ACCOUNT)
            .job_id(&id)
            .send()
            .await
            .unwrap();
        let status = job.job().unwrap().status().unwrap().clone();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == JobStatus::Complete {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(seen.last(), Some(&JobStatus::Complete), "{seen:?}");
    assert!(!seen.contains(&JobStatus::Suspended));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_stays_correct_while_jobs_change_status() {
    let seed = Seed::from_yaml(
        "accounts: [{id: '111122223333', generate: [{count: 300, id_prefix: page-, job: {status: Suspended}}]}]",
        None,
    )
    .unwrap();
    let sandbox = Sandbox::builder()
        .seed(seed)
        .speed(0.0)
        .start()
        .await
        .unwrap();
    let c = client(&sandbox.url());
    let all: Vec<String> = (1..=300).map(|n| format!("page-{n:05}")).collect();
    // Confirm every third job, concurrently with the listing.
    let confirmer = {
        let c = c.clone();
        let targets: Vec<String> = all.iter().step_by(3).cloned().collect();
        tokio::spawn(async move {
            for id in targets.iter().rev() {
                c.update_job_status()
                    .account_id(ACCOUNT)
                    .job_id(id)
                    .requested_job_status(RequestedJobStatus::Ready)
                    .send()
                    .await
                    .unwrap();
            }
            targets
        })
    };
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    // Deterministic interleaving too: after each page, cancel the oldest job not yet cancelled; the
    // listing (newest first) has not reached it, so it must not appear.
    let mut cancelled_ahead = Vec::new();
    let mut oldest = all.iter().skip(1).step_by(3);
    loop {
        let page = c
            .list_jobs()
            .account_id(ACCOUNT)
            .job_statuses(JobStatus::Suspended)
            .max_results(7)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        listed.extend(page.jobs().iter().map(|j| j.job_id().unwrap().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
        if let Some(id) = oldest.next().filter(|id| !listed.contains(id)) {
            let out = c
                .update_job_status()
                .account_id(ACCOUNT)
                .job_id(id)
                .requested_job_status(RequestedJobStatus::Cancelled)
                .send()
                .await;
            if out.is_ok() {
                cancelled_ahead.push(id.clone());
            }
        }
        tokio::task::yield_now().await;
    }
    assert!(cancelled_ahead.len() > 10, "{cancelled_ahead:?}");
    for id in &cancelled_ahead {
        assert!(
            !listed.contains(id),
            "{id} was cancelled before the listing reached it"
        );
    }
    let confirmed: HashSet<String> = confirmer.await.unwrap().into_iter().collect();
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "a job was listed twice");
    // Every job that stayed Suspended throughout was listed exactly once.
    for id in all
        .iter()
        .filter(|id| !confirmed.contains(*id) && !cancelled_ahead.contains(id))
    {
        assert!(unique.contains(id), "{id} was skipped");
    }
    // Newest first, never going back.
    let order: Vec<&String> = listed.iter().collect();
    assert!(order.windows(2).all(|w| w[0] > w[1]));
}

#[tokio::test]
async fn the_same_seed_tells_the_same_story() {
    let start: jiff::Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let sandbox = Sandbox::builder()
            .speed(0.0)
            .start_time(start)
            .start()
            .await
            .unwrap();
        let c = client(&sandbox.url());
        c.update_job_status()
            .account_id(ACCOUNT)
            .job_id(ACTIVE_SHARD_1)
            .requested_job_status(RequestedJobStatus::Cancelled)
            .send()
            .await
            .unwrap();
        sandbox.advance(Duration::from_secs(7200));
        let page = c.list_jobs().account_id(ACCOUNT).send().await.unwrap();
        let summary: Vec<String> = page
            .jobs()
            .iter()
            .map(|j| {
                format!(
                    "{} {:?} {:?} {:?} {:?}",
                    j.job_id().unwrap(),
                    j.status(),
                    j.creation_time(),
                    j.termination_date(),
                    j.progress_summary().map(|p| p.number_of_tasks_succeeded())
                )
            })
            .collect();
        bodies.push(summary);
        sandbox.shutdown().await;
    }
    assert_eq!(bodies[0], bodies[1]);
    assert!(
        bodies[0]
            .iter()
            .any(|l| l.contains(ACTIVE_SHARD_1) && l.contains("Cancelled"))
    );
}
