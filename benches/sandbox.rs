//! The sandbox's own capacity, measured with the real aws-sdk-s3control client: DescribeJob and
//! UpdateJobStatus at 64 concurrent requests against an in-process sandbox seeded with 100,000 jobs.
//! Client and server share the same runtime and cores, so the figure is a lower bound for the server.
//!
//! Run: `cargo bench --bench sandbox` (release profile). Results are recorded in docs/sandbox.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3control::Client;
use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_s3control::config::retry::RetryConfig;
use aws_sdk_s3control::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3control::types::RequestedJobStatus;
use s3plan::sandbox::{Operation, Sandbox, Seed};

const JOBS: usize = 100_000;
const CONCURRENCY: usize = 64;
const DESCRIBES: usize = 200_000;
const UPDATES: usize = JOBS;
const ACCOUNT: &str = "111122223333";

#[derive(Debug)]
struct FixedEndpoint(String);

impl ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(&'a self, _params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
    }
}

fn client(url: &str) -> Client {
    let conf = aws_sdk_s3control::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDBENCH", "bench-secret", None, None, "bench"))
        .endpoint_resolver(FixedEndpoint(url.to_owned()))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

fn id(n: usize) -> String {
    format!("bench-{:06}", n % JOBS + 1)
}

/// Runs `total` calls of `call` from `CONCURRENCY` tasks; returns (elapsed, errors).
async fn drive<F, Fut>(total: usize, call: F) -> (Duration, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let call = Arc::new(call);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (next, errors, call) = (Arc::clone(&next), Arc::clone(&errors), Arc::clone(&call));
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    if !call(n).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("bench task");
    }
    (started.elapsed(), errors.load(Ordering::Relaxed))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let seed = Seed::from_yaml(
            &format!(
                "accounts: [{{id: '{ACCOUNT}', generate: [{{count: {JOBS}, id_prefix: bench-, description_prefix: reindex-, job: {{status: Suspended, tags: {{team: search}}}}}}]}}]"
            ),
            None,
        )
        .expect("seed");
        let loading = Instant::now();
        let sandbox = Sandbox::builder()
            .seed(seed)
            .speed(0.0)
            .start()
            .await
            .expect("sandbox");
        println!("seeded {JOBS} jobs in {:.2?}", loading.elapsed());
        let c = client(&sandbox.url());

        // Warm up connections.
        let warm = c.clone();
        drive(2_000, move |n| {
            let c = warm.clone();
            async move { c.describe_job().account_id(ACCOUNT).job_id(id(n)).send().await.is_ok() }
        })
        .await;

        let describe = c.clone();
        let (elapsed, errors) = drive(DESCRIBES, move |n| {
            let c = describe.clone();
            async move { c.describe_job().account_id(ACCOUNT).job_id(id(n * 7919)).send().await.is_ok() }
        })
        .await;
        println!(
            "DescribeJob: {DESCRIBES} calls, {CONCURRENCY} concurrent, {:.2?}, {:.0} req/s, {errors} errors",
            elapsed,
            DESCRIBES as f64 / elapsed.as_secs_f64()
        );

        let update = c.clone();
        let (elapsed, errors) = drive(UPDATES, move |n| {
            let c = update.clone();
            async move {
                c.update_job_status()
                    .account_id(ACCOUNT)
                    .job_id(id(n))
                    .requested_job_status(RequestedJobStatus::Ready)
                    .status_update_reason("bench")
                    .send()
                    .await
                    .is_ok()
            }
        })
        .await;
        println!(
            "UpdateJobStatus: {UPDATES} calls, {CONCURRENCY} concurrent, {:.2?}, {:.0} req/s, {errors} errors",
            elapsed,
            UPDATES as f64 / elapsed.as_secs_f64()
        );
        println!(
            "audit entries: {}, calls: {:?}",
            sandbox.audit_for(Some(Operation::UpdateJobStatus), None).len(),
            sandbox.call_counts()
        );
        sandbox.shutdown().await;
    });
}
