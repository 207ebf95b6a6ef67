//! The one place that builds SDK clients: S3 Control (and STS, for the account id) from the standard AWS
//! chain, or for the in-process sandbox with static dummy credentials.
//!
//! Owns client settings: SDK retries off (our retry layer sees every attempt, so does the limiter), per-attempt
//! and connect timeouts (STS calls included), and the endpoint override. With a custom endpoint every
//! request goes to exactly that endpoint through a fixed `ResolveEndpoint`, because the S3 Control rule set
//! would prefix the account id to the host (`{account}.s3-control…`), which a local sandbox or proxy does not
//! answer to. Does not make job calls (`aws.rs`).

use std::time::Duration;

use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_s3control::config::retry::RetryConfig;
use aws_sdk_s3control::config::timeout::TimeoutConfig;
use aws_sdk_s3control::config::{
    BehaviorVersion, Credentials, Region, StalledStreamProtectionConfig,
};

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

/// Building a client failed before any job call. Each message names what is wrong and the command that
/// fixes it, on one line; the SDK's own chain of causes is logged with `-v`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ClientError {
    /// No region from the flag, the profile or the environment.
    #[error(
        "no AWS region is configured: pass --region REGION, or set one with `aws configure` (or AWS_REGION)"
    )]
    #[diagnostic(code(s3plan::client::no_region))]
    NoRegion,
    /// `--profile` (or `AWS_PROFILE`) names a profile the AWS config files do not have.
    #[error(
        "the AWS profile `{name}` ({from}) does not exist: create it with `aws configure --profile {name}`{}",
        known_profiles(known)
    )]
    #[diagnostic(code(s3plan::client::no_profile))]
    NoProfile {
        /// The profile asked for.
        name: String,
        /// Where the name came from (`--profile`, `AWS_PROFILE`).
        from: &'static str,
        /// The profiles that do exist.
        known: Vec<String>,
    },
    /// The AWS config files could not be read or parsed.
    #[error(
        "the AWS config files cannot be read ({detail}): fix them, then check with `aws configure list`"
    )]
    #[diagnostic(code(s3plan::client::profile_files))]
    ProfileFiles {
        /// The parser's message.
        detail: String,
    },
    /// No provider of the standard chain had credentials.
    #[error("{}", no_credentials(profile.as_deref()))]
    #[diagnostic(code(s3plan::client::no_credentials))]
    NoCredentials {
        /// The explicitly selected profile, if any.
        profile: Option<String>,
    },
    /// The selected profile signs in through IAM Identity Center (SSO) and has no valid session.
    #[error(
        "the SSO session of AWS profile `{profile}` is missing or expired: run `aws sso login --profile {profile}`"
    )]
    #[diagnostic(code(s3plan::client::sso_login))]
    SsoLogin {
        /// The profile.
        profile: String,
    },
    /// The credential chain failed for another reason.
    #[error(
        "failed to load AWS credentials ({detail}): check them with `aws configure list{}`",
        profile.as_ref().map(|p| format!(" --profile {p}")).unwrap_or_default()
    )]
    #[diagnostic(code(s3plan::client::credentials))]
    Credentials {
        /// The explicitly selected profile, if any.
        profile: Option<String>,
        /// The provider's own message (first cause only; `-v` logs the chain).
        detail: String,
    },
    /// The endpoint override is not an http(s) URL.
    #[error(
        "{from} `{url}` has no scheme: write it with http:// or https://, e.g. `http://{}`",
        url.trim_start_matches('/')
    )]
    #[diagnostic(code(s3plan::client::endpoint_scheme))]
    EndpointScheme {
        /// `--endpoint-url` or the variable it came from.
        from: &'static str,
        /// The value given.
        url: String,
    },
    /// The endpoint override names no host.
    #[error("{from} `{url}` names no host: give a URL such as `http://127.0.0.1:9300`")]
    #[diagnostic(code(s3plan::client::endpoint_host))]
    EndpointHost {
        /// `--endpoint-url` or the variable it came from.
        from: &'static str,
        /// The value given.
        url: String,
    },
    /// Nothing listens at the endpoint override (refused, or the host does not resolve).
    #[error(
        "the endpoint {url} did not answer ({reason}): start the server there (e.g. `s3plan sandbox`), or fix {from}"
    )]
    #[diagnostic(code(s3plan::client::endpoint_unreachable))]
    EndpointUnreachable {
        /// `--endpoint-url` or the variable it came from.
        from: &'static str,
        /// The endpoint.
        url: String,
        /// What the connection attempt met.
        reason: String,
    },
    /// The account id could not be found anywhere.
    #[error(
        "failed to find the account id: {0}\nhint: pass --account-id or set `account_id` in the plan"
    )]
    #[diagnostic(code(s3plan::client::account_id))]
    AccountId(String),
    /// The account id found is not 12 digits.
    #[error(transparent)]
    #[diagnostic(code(s3plan::client::account_id))]
    InvalidAccountId(#[from] crate::api::IdError),
}

fn no_credentials(profile: Option<&str>) -> String {
    match profile {
        Some(name) => format!(
            "the AWS profile `{name}` has no credentials: run `aws configure --profile {name}` (or `aws sso login --profile {name}` for SSO)"
        ),
        None => "no AWS credentials found: run `aws configure` (or `aws sso login --profile NAME` for SSO), or pass --profile NAME".to_owned(),
    }
}

fn known_profiles(known: &[String]) -> String {
    if known.is_empty() {
        " (no profile exists yet)".to_owned()
    } else {
        format!(", or use one of: {}", known.join(", "))
    }
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
    endpoint_source(flag).map(|(_, url)| url)
}

/// The endpoint override and where it came from (the flag or the variable's name).
pub(crate) fn endpoint_source(flag: Option<&str>) -> Option<(&'static str, String)> {
    if let Some(url) = flag {
        return Some(("--endpoint-url", url.to_owned()));
    }
    ENDPOINT_VARIABLES.iter().find_map(|name| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (*name, v))
    })
}

/// The `host:port` an endpoint URL connects to, after checking it is an http(s) URL with a host: the SDK
/// would otherwise fail at the first call with its request dumped in `Debug` form.
pub(crate) fn endpoint_authority(from: &'static str, url: &str) -> Result<String, ClientError> {
    let lower = url.to_ascii_lowercase();
    let (rest, default_port) = if lower.starts_with("http://") {
        (&url["http://".len()..], 80)
    } else if lower.starts_with("https://") {
        (&url["https://".len()..], 443)
    } else {
        return Err(ClientError::EndpointScheme {
            from,
            url: url.to_owned(),
        });
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials in the URL (`user@host`) are not part of where to connect.
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let has_port = match host_port.rfind(']') {
        // An IPv6 literal: `[::1]` or `[::1]:9300`.
        Some(end) => host_port[end..].contains(':'),
        None => host_port.contains(':'),
    };
    let host = if has_port {
        host_port
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or_default()
    } else {
        host_port
    };
    if host.is_empty() || host == "[]" {
        return Err(ClientError::EndpointHost {
            from,
            url: url.to_owned(),
        });
    }
    Ok(if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    })
}

/// Connects once to a custom endpoint before the first call: a closed port or an unknown host fails here in
/// one line, instead of after every retry of the first read. Other failures (a slow link, a proxy) are left
/// to the calls themselves, which time out and retry as usual.
pub(crate) async fn check_endpoint_answers(
    from: &'static str,
    url: &str,
    authority: &str,
    timeout: Duration,
) -> Result<(), ClientError> {
    let unreachable = |reason: String| ClientError::EndpointUnreachable {
        from,
        url: url.to_owned(),
        reason,
    };
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(authority)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(unreachable("connection refused".to_owned()))
        }
        // Name resolution failures surface as `Other`/`Uncategorized` with the resolver's message.
        Ok(Err(e)) if e.raw_os_error().is_none() => {
            Err(unreachable(format!("cannot resolve the host: {e}")))
        }
        Ok(Err(e)) => {
            tracing::info!("a test connection to {url} failed ({e}); the calls will try again");
            Ok(())
        }
        Err(_) => {
            tracing::info!(
                "a test connection to {url} took more than {timeout:?}; the calls will try again"
            );
            Ok(())
        }
    }
}

/// The selected profile (explicitly, by flag or `AWS_PROFILE`) exists, and whether it signs in via SSO.
/// Without an explicit profile only SSO detection is done: `default` may legitimately not exist.
async fn check_profile(flag: Option<&str>) -> Result<Option<SelectedProfile>, ClientError> {
    use aws_runtime::env_config::file::EnvConfigFiles as ProfileFiles;
    use aws_types::os_shim_internal::{Env, Fs};

    let env_profile = std::env::var("AWS_PROFILE")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let explicit = match (flag, env_profile) {
        (Some(name), _) => Some(("--profile", name.to_owned())),
        (None, Some(name)) => Some(("AWS_PROFILE", name)),
        (None, None) => None,
    };
    let loaded = aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &ProfileFiles::default(),
        explicit
            .as_ref()
            .map(|(_, name)| std::borrow::Cow::Owned(name.clone())),
    )
    .await;
    let set = match loaded {
        Ok(set) => set,
        // No file at all is fine for environment or instance credentials; a broken one is not.
        Err(e) => {
            return Err(ClientError::ProfileFiles {
                detail: e.to_string(),
            });
        }
    };
    let name = set.selected_profile().to_owned();
    let Some(profile) = set.get_profile(&name) else {
        return match explicit {
            Some((from, name)) => {
                let mut known: Vec<String> = set.profiles().map(str::to_owned).collect();
                known.sort();
                Err(ClientError::NoProfile { name, from, known })
            }
            None => Ok(None),
        };
    };
    let sso = profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some();
    Ok(Some(SelectedProfile {
        name,
        explicit: explicit.is_some(),
        sso,
    }))
}

/// The profile the standard chain reads, as far as the set-up checks need it.
struct SelectedProfile {
    name: String,
    explicit: bool,
    sso: bool,
}

/// How long the credential chain may take before the run is refused (SSO and assume-role call out).
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(30);

/// Loads credentials once before the first call, so that none, an expired SSO session or a broken
/// profile is said in one line with its fix, not as a dispatch failure of the first job call.
async fn check_credentials(
    sdk: &aws_config::SdkConfig,
    profile: Option<&SelectedProfile>,
) -> Result<(), ClientError> {
    use aws_credential_types::provider::ProvideCredentials;
    use aws_credential_types::provider::error::CredentialsError;

    let explicit = profile.filter(|p| p.explicit).map(|p| p.name.clone());
    let Some(provider) = sdk.credentials_provider() else {
        return Err(ClientError::NoCredentials { profile: explicit });
    };
    let loaded = tokio::time::timeout(CREDENTIALS_TIMEOUT, provider.provide_credentials()).await;
    let error = match loaded {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(error)) => error,
        Err(_) => {
            return Err(ClientError::Credentials {
                profile: explicit,
                detail: format!(
                    "the credential chain did not answer within {}s",
                    CREDENTIALS_TIMEOUT.as_secs()
                ),
            });
        }
    };
    tracing::info!(
        "loading credentials failed: {}",
        crate::api::aws::error_chain(&error)
    );
    if let Some(profile) = profile.filter(|p| p.sso) {
        return Err(ClientError::SsoLogin {
            profile: profile.name.clone(),
        });
    }
    Err(match error {
        CredentialsError::CredentialsNotLoaded(_) => {
            ClientError::NoCredentials { profile: explicit }
        }
        other => ClientError::Credentials {
            profile: explicit,
            detail: other.to_string(),
        },
    })
}

pub(crate) fn sdk_settings(
    builder: aws_sdk_s3control::config::Builder,
    endpoint: Option<&str>,
    timeouts: Timeouts,
) -> aws_sdk_s3control::config::Builder {
    let builder = builder
        .retry_config(RetryConfig::disabled())
        // Stalled-stream protection watches the throughput of streaming bodies (uploads, downloads) and
        // wraps every request and answer body in a throughput meter with its own timers. Job calls send and
        // receive a few hundred bytes each, and the attempt timeout below already ends any attempt that
        // stalls, so the meter only costs CPU on every call.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
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
pub(crate) fn sts_timeouts(timeouts: Timeouts) -> aws_sdk_sts::config::timeout::TimeoutConfig {
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
        // Checked in the order a person fixes them: a URL typo, a profile name, then what the chain finds.
        let endpoint = endpoint_source(settings.endpoint_url.as_deref());
        let authority = match &endpoint {
            Some((from, url)) => Some(endpoint_authority(from, url)?),
            None => None,
        };
        let profile = check_profile(settings.profile.as_deref()).await?;
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
        let timeouts = settings.timeouts.unwrap_or_default();
        if let (Some((from, url)), Some(authority)) = (&endpoint, &authority) {
            check_endpoint_answers(from, url, authority, timeouts.connect).await?;
        }
        check_credentials(&sdk, profile.as_ref()).await?;
        let endpoint = endpoint.map(|(_, url)| url);
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

    /// A client for the sandbox at `endpoint`, STS included: static dummy credentials (`sandbox`/`sandbox`)
    /// and `region`, so `--sandbox` needs no AWS set-up at all and never calls AWS.
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
        // The sandbox answers STS on the same port: with `--sandbox` no call may reach AWS.
        let sts_conf = aws_sdk_sts::config::Builder::new()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(region.clone())
            .endpoint_url(endpoint)
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
        self.caller_account().await
    }

    /// The account of the credentials, from STS GetCallerIdentity.
    pub async fn caller_account(&self) -> Result<AccountId, ClientError> {
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
    fn endpoints_are_checked_for_scheme_and_host_and_give_where_to_connect() {
        let authority = |url: &str| endpoint_authority("--endpoint-url", url);
        assert_eq!(
            authority("http://127.0.0.1:9300").unwrap(),
            "127.0.0.1:9300"
        );
        assert_eq!(
            authority("HTTP://localhost/path?q").unwrap(),
            "localhost:80"
        );
        assert_eq!(
            authority("https://s3-control.example.com").unwrap(),
            "s3-control.example.com:443"
        );
        assert_eq!(authority("http://[::1]:9300/").unwrap(), "[::1]:9300");
        assert_eq!(authority("http://[::1]").unwrap(), "[::1]:80");
        assert_eq!(authority("http://user:pw@host:81").unwrap(), "host:81");
        assert!(matches!(
            authority("127.0.0.1:9300"),
            Err(ClientError::EndpointScheme { .. })
        ));
        assert!(matches!(
            authority("localhost"),
            Err(ClientError::EndpointScheme { .. })
        ));
        assert!(matches!(
            authority("http://"),
            Err(ClientError::EndpointHost { .. })
        ));
        assert!(matches!(
            authority("http://:9300"),
            Err(ClientError::EndpointHost { .. })
        ));
    }

    #[test]
    fn job_calls_keep_retries_off_and_their_timeouts_without_stalled_stream_protection() {
        let timeouts = Timeouts {
            attempt: Duration::from_secs(7),
            connect: Duration::from_secs(2),
        };
        let conf = sdk_settings(
            aws_sdk_s3control::config::Builder::new(),
            Some("http://127.0.0.1:9000"),
            timeouts,
        )
        .build();
        assert_eq!(conf.retry_config().unwrap().max_attempts(), 1);
        let limits = conf.timeout_config().unwrap();
        assert_eq!(limits.operation_attempt_timeout(), Some(timeouts.attempt));
        assert_eq!(limits.connect_timeout(), Some(timeouts.connect));
        assert!(!conf.stalled_stream_protection().unwrap().is_enabled());
    }

    #[test]
    fn the_flag_beats_the_environment() {
        assert_eq!(
            endpoint_override(Some("http://127.0.0.1:1")).as_deref(),
            Some("http://127.0.0.1:1")
        );
    }
}
