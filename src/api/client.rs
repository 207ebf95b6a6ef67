//! The one place that builds SDK clients: S3 Control (and STS, for the account id) from the standard AWS
//! chain, or for the in-process sandbox with static dummy credentials.
//!
//! Owns client settings: SDK retries off (our retry layer sees every attempt, so does the limiter), per-attempt
//! and connect timeouts (STS calls included), and the endpoint override. With a custom endpoint every
//! request goes to exactly that endpoint through a fixed `ResolveEndpoint`, because the S3 Control rule set
//! would prefix the account id to the host (reference §4.1, §4.2). Does not make job calls (`aws.rs`).

use std::time::Duration;

use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_s3control::config::retry::RetryConfig;
use aws_sdk_s3control::config::timeout::TimeoutConfig;
use aws_sdk_s3control::config::{BehaviorVersion, Credentials, Region};

use crate::api::AccountId;
use crate::api::aws::AwsJobControl;

/// Where the endpoint override comes from, in order: the flag, then these variables.
pub const ENDPOINT_VARIABLES: [&str; 2] = ["AWS_ENDPOINT_URL_S3_CONTROL", "AWS_ENDPOINT_URL"];

/// Settings of the SDK client, from flags and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientSettings {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--region`; else the chain's region.
    pub region: Option<String>,
    /// `--endpoint-url`; else [`ENDPOINT_VARIABLES`].
    pub endpoint_url: Option<String>,
    /// Timeouts; `None` takes [`Timeouts::default`].
    pub timeouts: Option<Timeouts>,
}

/// Per-request time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// One attempt, from sending to the end of the answer.
    pub attempt: Duration,
    /// Establishing a connection.
    pub connect: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            attempt: Duration::from_secs(10),
            connect: Duration::from_secs(3),
        }
    }
}

/// Building a client failed before any job call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No region from the flag, the profile or the environment.
    #[error(
        "no AWS region is configured\nhint: pass --region, set AWS_REGION, or set `region` in your profile"
    )]
    NoRegion,
    /// The account id could not be found anywhere.
    #[error(
        "failed to find the account id: {0}\nhint: pass --account-id or set `account_id` in the plan"
    )]
    AccountId(String),
    /// The account id found is not 12 digits.
    #[error(transparent)]
    InvalidAccountId(#[from] crate::api::IdError),
}

/// Sends every request to one fixed URL: no account-id host prefix, no rule set.
#[derive(Debug, Clone)]
struct FixedEndpoint(String);

impl ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(&'a self, _params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
    }
}

/// The endpoint override: the flag, else the first set variable of [`ENDPOINT_VARIABLES`].
pub fn endpoint_override(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_owned).or_else(|| {
        ENDPOINT_VARIABLES
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    })
}

fn sdk_settings(
    builder: aws_sdk_s3control::config::Builder,
    endpoint: Option<&str>,
    timeouts: Timeouts,
) -> aws_sdk_s3control::config::Builder {
    let builder = builder
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(timeouts.attempt)
                .connect_timeout(timeouts.connect)
                .build(),
        );
    match endpoint {
        Some(url) => builder.endpoint_resolver(FixedEndpoint(url.to_owned())),
        None => builder,
    }
}

/// STS gets the same limits as job calls: an endpoint that accepts and never answers must not hold the
/// account lookup (and the run's set-up) forever.
fn sts_timeouts(timeouts: Timeouts) -> aws_sdk_sts::config::timeout::TimeoutConfig {
    aws_sdk_sts::config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(timeouts.attempt)
        .operation_timeout(timeouts.attempt)
        .connect_timeout(timeouts.connect)
        .build()
}

/// A loaded AWS configuration: the S3 Control client plus what the run shows and reports.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// The S3 Control client.
    pub s3control: aws_sdk_s3control::Client,
    /// The STS client (same chain), for GetCallerIdentity.
    pub sts: aws_sdk_sts::Client,
    /// The region requests are signed for.
    pub region: String,
    /// The endpoint override, when there is one.
    pub endpoint: Option<String>,
}

impl AwsClients {
    /// Loads the standard chain (profile, region, credentials) and builds the clients.
    pub async fn load(settings: &ClientSettings) -> Result<Self, ClientError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let sdk = loader.load().await;
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or(ClientError::NoRegion)?;
        let endpoint = endpoint_override(settings.endpoint_url.as_deref());
        let timeouts = settings.timeouts.unwrap_or_default();
        let conf = sdk_settings(
            aws_sdk_s3control::config::Builder::from(&sdk),
            endpoint.as_deref(),
            timeouts,
        )
        .build();
        let sts_conf = aws_sdk_sts::config::Builder::from(&sdk)
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .timeout_config(sts_timeouts(timeouts))
            .build();
        Ok(Self {
            s3control: aws_sdk_s3control::Client::from_conf(conf),
            sts: aws_sdk_sts::Client::from_conf(sts_conf),
            region,
            endpoint,
        })
    }

    /// A client for the sandbox at `endpoint`: static dummy credentials (`sandbox`/`sandbox`) and
    /// `region`, so `--sandbox` needs no AWS set-up at all.
    pub fn sandbox(endpoint: &str, region: &str, timeouts: Timeouts) -> Self {
        let credentials = Credentials::new("sandbox", "sandbox", None, None, "s3plan-sandbox");
        let region = Region::new(region.to_owned());
        let conf = sdk_settings(
            aws_sdk_s3control::config::Builder::new()
                .behavior_version(BehaviorVersion::latest())
                .region(region.clone())
                .credentials_provider(credentials.clone()),
            Some(endpoint),
            timeouts,
        )
        .build();
        let sts_conf = aws_sdk_sts::config::Builder::new()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(region.clone())
            .credentials_provider(credentials)
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .timeout_config(sts_timeouts(timeouts))
            .build();
        Self {
            s3control: aws_sdk_s3control::Client::from_conf(conf),
            sts: aws_sdk_sts::Client::from_conf(sts_conf),
            region: region.as_ref().to_owned(),
            endpoint: Some(endpoint.to_owned()),
        }
    }

    /// The account id, in this order: the flag, the plan, `AWS_ACCOUNT_ID`, STS GetCallerIdentity.
    pub async fn account_id(
        &self,
        flag: Option<&str>,
        plan: Option<&str>,
    ) -> Result<AccountId, ClientError> {
        let env = std::env::var("AWS_ACCOUNT_ID")
            .ok()
            .filter(|v| !v.trim().is_empty());
        if let Some(id) = flag.or(plan).or(env.as_deref()) {
            return Ok(AccountId::parse(id.trim())?);
        }
        let answer = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| ClientError::AccountId(crate::api::aws::describe_sts_error(&e)))?;
        let id = answer.account().ok_or_else(|| {
            ClientError::AccountId("GetCallerIdentity answered no account".to_owned())
        })?;
        Ok(AccountId::parse(id)?)
    }

    /// The `JobControl` over these clients for `account`.
    pub fn job_control(&self, account: AccountId) -> AwsJobControl {
        AwsJobControl::new(self.s3control.clone(), account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_custom_endpoint_is_used_exactly() {
        let resolver = FixedEndpoint("http://127.0.0.1:9000".to_owned());
        let params = Params::builder()
            .region("us-east-1")
            .account_id("111122223333")
            .requires_account_id(true)
            .build()
            .unwrap();
        let endpoint = resolver.resolve_endpoint(&params).await.unwrap();
        assert_eq!(endpoint.url(), "http://127.0.0.1:9000");
    }

    #[test]
    fn the_flag_beats_the_environment() {
        assert_eq!(
            endpoint_override(Some("http://127.0.0.1:1")).as_deref(),
            Some("http://127.0.0.1:1")
        );
    }
}
