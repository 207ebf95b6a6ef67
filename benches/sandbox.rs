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
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

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
        .credentials_provider(Credentials::new(
            "AKIDBENCH",
            "bench-secret",
            None,
            None,
            "bench",
        ))
        .endpoint_resolver(FixedEndpoint(url.to_owned()))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

fn id(n: usize) -> String {
    format!("bench-{:05}", n % JOBS + 1)
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

/// A minimal keep-alive HTTP/1.1 client: isolates the server's cost from the SDK's (signing, parsing).
struct RawConnection {
    stream: BufReader<TcpStream>,
    line: String,
    body: Vec<u8>,
}

impl RawConnection {
    async fn open(addr: std::net::SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        RawConnection {
            stream: BufReader::new(stream),
            line: String::new(),
            body: Vec::new(),
        }
    }

    /// Sends one request and returns the status code.
    async fn call(&mut self, method: &str, target: &str) -> u16 {
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-amz-account-id: {ACCOUNT}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000\r\nContent-Length: 0\r\n\r\n"
        );
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("write");
        self.line.clear();
        self.stream
            .read_line(&mut self.line)
            .await
            .expect("status line");
        let status = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let mut length = 0;
        loop {
            self.line.clear();
            self.stream.read_line(&mut self.line).await.expect("header");
            if self.line == "\r\n" {
                break;
            }
            if let Some((name, value)) = self.line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("content-length");
            }
        }
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body).await.expect("body");
        status
    }
}

/// `total` raw calls from `CONCURRENCY` keep-alive connections; returns (elapsed, non-200 answers).
async fn drive_raw(
    addr: std::net::SocketAddr,
    total: usize,
    method: &'static str,
    target: fn(usize) -> String,
) -> (Duration, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (next, errors) = (Arc::clone(&next), Arc::clone(&errors));
            tokio::spawn(async move {
                let mut conn = RawConnection::open(addr).await;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    if conn.call(method, &target(n)).await != 200 {
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

fn report(what: &str, total: usize, (elapsed, errors): (Duration, usize)) {
    assert_eq!(errors, 0, "{what}: {errors} calls failed");
    println!(
        "{what}: {total} calls, {CONCURRENCY} concurrent, {elapsed:.2?}, {:.0} req/s",
        total as f64 / elapsed.as_secs_f64()
    );
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
        report("DescribeJob (SDK client)", DESCRIBES, (elapsed, errors));

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
        report("UpdateJobStatus (SDK client)", UPDATES, (elapsed, errors));

        // The same with a raw keep-alive client: the server's own cost. Cancelling the now-Ready jobs
        // exercises the same path as confirming them.
        let addr = sandbox.addr();
        let result = drive_raw(addr, DESCRIBES, "GET", |n| format!("/v20180820/jobs/{}", id(n * 7919))).await;
        report("DescribeJob (raw client)", DESCRIBES, result);
        let result = drive_raw(addr, UPDATES, "POST", |n| {
            format!("/v20180820/jobs/{}/status?requestedJobStatus=Cancelled&statusUpdateReason=bench", id(n))
        })
        .await;
        report("UpdateJobStatus (raw client)", UPDATES, result);
        println!(
            "audit entries: {}, calls: {:?}",
            sandbox.audit_for(Some(Operation::UpdateJobStatus), None).len(),
            sandbox.call_counts()
        );
        sandbox.shutdown().await;
    });
}
