//! The clients of a plan with `targets:`: one S3 Control (and STS) client per target, each with the
//! target's region and credentials, built on one base configuration.
//!
//! Owns how a target's credentials are found (the standard chain, a named profile, or a role assumed
//! through STS from the base credentials) and the check that the credentials belong to the target's
//! account, made for every target before anything is resolved. Client settings (retries off, timeouts, the
//! endpoint override) are `client.rs`'s, applied the same way.

use std::time::Duration;

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_s3control::config::{BehaviorVersion, Credentials, Region};

use crate::api::AccountId;
use crate::api::client::{AwsClients, ClientError, Timeouts, sdk_settings, sts_timeouts};

/// How one target finds its credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CredentialSource {
    /// The base credentials (the standard chain, or `--profile`).
    Chain,
    /// A named profile of the AWS config files.
    Profile(String),
    /// A role assumed through STS with the base credentials, under this session name.
    AssumeRole {
        /// The role's ARN.
        role_arn: String,
        /// `RoleSessionName`: names s3plan and the run in the role's CloudTrail.
        session_name: String,
    },
}

/// One target's clients and the credentials they sign with.
#[derive(Debug, Clone)]
pub struct TargetClients {
    /// S3 Control and STS for the target's region.
    pub clients: AwsClients,
    /// Where their credentials come from (an assumed role's are fetched on first use).
    pub credentials: SharedCredentialsProvider,
}

/// The configuration every target builds on.
#[derive(Debug, Clone)]
pub struct Base {
    sdk: SdkConfig,
    endpoint: Option<String>,
    timeouts: Timeouts,
    sandbox: bool,
    /// One provider per credential source, shared by every target using it: a role is assumed once per
    /// run (not once per region and client), and a profile read once.
    providers:
        std::sync::Arc<std::sync::Mutex<HashMap<CredentialSource, SharedCredentialsProvider>>>,
}

/// How long fetching one target's credentials may take (an assumed role calls STS).
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(30);

impl Base {
    /// The standard chain (with `profile` when given) and the endpoint override, for targets on AWS or a
    /// custom endpoint. Credentials are not loaded here: a plan whose targets all use profiles needs none.
    pub async fn load(
        profile: Option<&str>,
        region: &str,
        endpoint: Option<String>,
        timeouts: Timeouts,
    ) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .http_client(shared_http_client());
        if let Some(profile) = profile {
            loader = loader.profile_name(profile);
        }
        Self {
            sdk: with_limits(loader.load().await, timeouts),
            endpoint,
            timeouts,
            sandbox: false,
            providers: Default::default(),
        }
    }

    /// The in-process sandbox at `endpoint`: its static credentials, and its STS on the same port.
    pub fn sandbox(endpoint: &str, region: &str, timeouts: Timeouts) -> Self {
        let credentials = Credentials::new("sandbox", "sandbox", None, None, "s3plan-sandbox");
        // Built by hand rather than loaded, so the clock and sleep the SDK needs (an assumed role's
        // credentials expire) are given explicitly.
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .time_source(aws_smithy_async::time::SharedTimeSource::default())
            .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(
                aws_smithy_async::rt::sleep::TokioSleep::new(),
            ))
            .region(Region::new(region.to_owned()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .http_client(shared_http_client())
            .endpoint_url(endpoint)
            .build();
        Self {
            sdk: with_limits(sdk, timeouts),
            endpoint: Some(endpoint.to_owned()),
            timeouts,
            sandbox: true,
            providers: Default::default(),
        }
    }

    /// The clients of one target: `region`, credentials from `source`. A profile is loaded from the
    /// config files (a missing one is an error naming it); a role is assumed lazily by the SDK, so the
    /// account check below is what first calls STS.
    pub async fn clients(
        &self,
        region: &str,
        source: &CredentialSource,
    ) -> Result<TargetClients, String> {
        let region = Region::new(region.to_owned());
        let known = self
            .providers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(source)
            .cloned();
        let credentials = match known {
            Some(provider) => provider,
            None => {
                let provider = self.provider(source, &region).await?;
                self.providers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(source.clone())
                    .or_insert(provider)
                    .clone()
            }
        };
        let conf = sdk_settings(
            aws_sdk_s3control::config::Builder::from(&self.sdk)
                .region(region.clone())
                .credentials_provider(credentials.clone()),
            self.endpoint.as_deref(),
            self.timeouts,
        )
        .build();
        let mut sts = aws_sdk_sts::config::Builder::from(&self.sdk)
            .region(region.clone())
            .credentials_provider(credentials.clone())
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .timeout_config(sts_timeouts(self.timeouts));
        if self.sandbox
            && let Some(endpoint) = &self.endpoint
        {
            sts = sts.endpoint_url(endpoint);
        }
        Ok(TargetClients {
            clients: AwsClients {
                s3control: aws_sdk_s3control::Client::from_conf(conf),
                sts: aws_sdk_sts::Client::from_conf(sts.build()),
                region: region.as_ref().to_owned(),
                endpoint: self.endpoint.clone(),
            },
            credentials,
        })
    }

    /// The credentials provider of `source`, caching what it hands out until shortly before it expires.
    async fn provider(
        &self,
        source: &CredentialSource,
        region: &Region,
    ) -> Result<SharedCredentialsProvider, String> {
        let provider: SharedCredentialsProvider = match source {
            CredentialSource::Chain => self
                .sdk
                .credentials_provider()
                .ok_or_else(|| "no credentials were found in the standard chain".to_owned())?,
            CredentialSource::Profile(name) => {
                if self.sandbox {
                    return Err(format!(
                        "profile `{name}` cannot be used with --sandbox (it has no AWS profiles); use role_arn"
                    ));
                }
                // The profile's own credentials, not the default chain with the profile selected:
                // that chain reads the environment first, and AWS_ACCESS_KEY_ID would win over it.
                SharedCredentialsProvider::new(
                    aws_config::profile::ProfileFileCredentialsProvider::builder()
                        .profile_name(name)
                        .build(),
                )
            }
            CredentialSource::AssumeRole {
                role_arn,
                session_name,
            } => {
                let assumed = AssumeRoleProvider::builder(role_arn)
                    .session_name(session_name)
                    .region(region.clone())
                    .configure(&self.sdk)
                    .build()
                    .await;
                SharedCredentialsProvider::new(assumed)
            }
        };
        Ok(SharedCredentialsProvider::new(Cached::new(provider)))
    }
}

/// A credentials provider that hands out the same credentials until a minute before they expire: every
/// target and client sharing a source shares one fetch (one AssumeRole per role per run, renewed when a
/// long run outlives the session).
#[derive(Debug)]
struct Cached {
    inner: SharedCredentialsProvider,
    current: tokio::sync::Mutex<Option<Credentials>>,
}

/// One HTTP client for every target's S3 Control and STS clients: one connection pool and one TLS
/// configuration (its trusted certificates loaded once) instead of one per client. Left to the SDK, each of
/// 400 targets' two clients built its own (400 targets: 251 MiB peak RSS).
fn shared_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_https()
}

/// How long before their expiry cached credentials are fetched again.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

impl Cached {
    fn new(inner: SharedCredentialsProvider) -> Self {
        Self {
            inner,
            current: tokio::sync::Mutex::new(None),
        }
    }

    async fn credentials(&self) -> aws_credential_types::provider::Result {
        use aws_credential_types::provider::ProvideCredentials as _;
        // Held across the fetch: callers that arrive meanwhile wait for it instead of fetching again.
        let mut current = self.current.lock().await;
        if let Some(credentials) = current.as_ref()
            && credentials
                .expiry()
                .is_none_or(|expiry| expiry > std::time::SystemTime::now() + RENEW_BEFORE)
        {
            return Ok(credentials.clone());
        }
        let fresh = self.inner.provide_credentials().await?;
        *current = Some(fresh.clone());
        Ok(fresh)
    }
}

impl aws_credential_types::provider::ProvideCredentials for Cached {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(self.credentials())
    }
}

/// The SDK's retries off (a failed check names the failure at once; the operator reruns) and our timeouts
/// on every client built from the base, the STS calls of an assumed role included.
fn with_limits(sdk: SdkConfig, timeouts: Timeouts) -> SdkConfig {
    sdk.into_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(timeouts.attempt)
                .connect_timeout(timeouts.connect)
                .build(),
        )
        .build()
}

/// The last cause of `error`: the service's own answer (`AccessDenied: User is not authorized …`) rather
/// than the layers the SDK wraps around it.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &dyn std::error::Error = error;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = last.to_string();
    // A service error's metadata prints as `Error { code: "X", message: "Y", … }`: say `X: Y`.
    match (field(&text, "code"), field(&text, "message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => text,
    }
}

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("{name}: \""))? + name.len() + 3;
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// Checks that `clients` reach `account`: their credentials load (an assumed role is assumed here) and
/// STS GetCallerIdentity names that account. The error says what failed, in one line.
pub async fn check_account(target: &TargetClients, account: &AccountId) -> Result<(), String> {
    use aws_credential_types::provider::ProvideCredentials as _;
    let clients = &target.clients;
    // Credentials first, so a role that cannot be assumed is named as such (not as a failed STS call).
    match tokio::time::timeout(
        CREDENTIALS_TIMEOUT,
        target.credentials.provide_credentials(),
    )
    .await
    {
        Err(_) => {
            return Err(format!(
                "its credentials did not load within {}s",
                CREDENTIALS_TIMEOUT.as_secs()
            ));
        }
        Ok(Err(error)) => {
            return Err(format!(
                "loading its credentials failed: {}",
                innermost(&error)
            ));
        }
        Ok(Ok(_)) => {}
    }
    let asked = tokio::time::timeout(CREDENTIALS_TIMEOUT, clients.caller_account()).await;
    match asked {
        Err(_) => Err(format!(
            "its credentials did not load within {}s",
            CREDENTIALS_TIMEOUT.as_secs()
        )),
        Ok(Err(ClientError::AccountId(detail))) => Err(detail),
        Ok(Err(other)) => Err(other.to_string()),
        Ok(Ok(actual)) if &actual != account => Err(format!(
            "its credentials belong to account {actual}, not {account}"
        )),
        Ok(Ok(_)) => Ok(()),
    }
}
