//! Helpers for the sandbox tests: an aws-sdk-s3control client aimed at a sandbox (fixed endpoint
//! resolver, static credentials, us-east-1, configurable retries) and a raw HTTP/1.1 exchange for what the
//! SDK cannot send or does not show (missing headers, absolute-form URIs, response headers).

use std::time::Duration;

use aws_sdk_s3control::Client;
use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_s3control::config::retry::RetryConfig;
use aws_sdk_s3control::config::{BehaviorVersion, Credentials, Region};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub const ACCOUNT: &str = "111122223333";
/// Demo jobs (see src/sandbox/demo-seed.yaml).
pub const SUSPENDED_ARCHIVE: &str = "6513270e-269e-4d37-b2a7-4de452e6b438";
pub const SUSPENDED_EU: &str = "d23f0824-128b-4f33-8c5c-7fd0a6a3a450";
pub const ACTIVE_SHARD_1: &str = "8d116ece-1738-47d9-bd9c-172411e20b8f";
pub const COMPLETE_ARCHIVE: &str = "92276658-1e27-41c0-8a6a-63ec24ede6a4";
pub const FAILED_REVIEWS: &str = "923a7369-94e3-4f91-9a61-dbe22e44158b";

#[derive(Debug)]
struct FixedEndpoint(String);

impl ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(&'a self, _params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
    }
}

/// A client with retries disabled and test credentials.
pub fn client(url: &str) -> Client {
    client_with(url, "AKIDSANDBOXTEST", "sandbox-secret", 1)
}

/// A client with the given keys and `attempts` (1 = no retries; backoff 5 ms).
pub fn client_with(url: &str, akid: &str, secret: &str, attempts: u32) -> Client {
    let retry = if attempts <= 1 {
        RetryConfig::disabled()
    } else {
        RetryConfig::standard()
            .with_max_attempts(attempts)
            .with_initial_backoff(Duration::from_millis(5))
            .with_max_backoff(Duration::from_millis(20))
    };
    let conf = aws_sdk_s3control::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(akid, secret, None, None, "test"))
        .endpoint_resolver(FixedEndpoint(url.to_owned()))
        .retry_config(retry)
        .build();
    Client::from_conf(conf)
}

/// A raw HTTP response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` (a full HTTP/1.1 request; `Connection: close` is expected) and reads the answer.
/// `None` when the server closed the connection without a response.
pub async fn raw(addr: std::net::SocketAddr, request: &str) -> Option<RawResponse> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    if buf.is_empty() {
        return None;
    }
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    Some(RawResponse {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// A signed-looking (not verifiable) GET, enough for a sandbox without credentials.
pub fn get(path_or_uri: &str, host: &str, account: Option<&str>) -> String {
    let account = account
        .map(|a| format!("x-amz-account-id: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path_or_uri} HTTP/1.1\r\nHost: {host}\r\n{account}Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={}\r\nConnection: close\r\n\r\n",
        "0".repeat(64)
    )
}

/// Demo jobs with operation parameters worth checking.
pub const LEGAL_HOLD: &str = "0cb1e29c-658c-4a14-95e6-0af593bd04cf";
pub const COPY_LOGS: &str = "6b0d549b-6f03-475a-9600-a35a099950d8";
pub const RESTORE_GENERATED: &str = "36f675cc-81e7-4ef5-a8e2-5d940ed90475";

/// A client without retries that signs for `region`.
pub fn client_in_region(url: &str, region: &'static str) -> Client {
    let conf = aws_sdk_s3control::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static(region))
        .credentials_provider(Credentials::new(
            "AKIDSANDBOXTEST",
            "sandbox-secret",
            None,
            None,
            "test",
        ))
        .endpoint_resolver(FixedEndpoint(url.to_owned()))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

/// The demo sandbox with its clock frozen (only an admin `advance` moves it): every sandbox test's start.
pub async fn frozen_demo() -> s3plan::sandbox::SandboxHandle {
    s3plan::sandbox::Sandbox::builder()
        .speed(0.0)
        .start()
        .await
        .unwrap()
}
