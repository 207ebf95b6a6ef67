//! What `apply` and `plan` share before anything runs: load the plan, decide account, region, endpoint and
//! limits (flags beat plan values, plan values beat defaults), start the in-process sandbox for
//! `--sandbox`, build the one AWS client, and resolve the plan into jobs.
//!
//! Owns the safety checks made before any call that could change a job: a plan that pins its account or
//! region is refused when the flags name another. Does not prompt, run or report (the commands do).

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::api::AccountId;
use crate::api::aws::AwsJobControl;
use crate::api::client::{AwsClients, ClientSettings, Timeouts};
use crate::cli::ConnectArgs;
use crate::errors::CommandError;
use crate::exec::limiter::Limiter;
use crate::exec::retry::RetryPolicy;
use crate::plan::{self, LoadedPlan};
use crate::resolve::{self, Reader};
use crate::resolved::{ResolvedPlan, RunMode, RunSettings, Target};
use crate::sandbox::{DEMO_ACCOUNT, Sandbox, SandboxHandle, Seed};

/// The region the in-process sandbox signs for when neither the flag nor the plan names one.
const SANDBOX_REGION: &str = "us-east-1";

/// A loaded plan with everything needed to resolve and run it.
pub(crate) struct Session {
    /// The validated plan.
    pub loaded: LoadedPlan,
    /// Account, region and endpoint.
    pub target: Target,
    /// Merged limits and timings.
    pub settings: RunSettings,
    /// The job API for the target account.
    pub control: Arc<AwsJobControl>,
    /// The in-process sandbox, kept alive for the session (`--sandbox`).
    pub sandbox: Option<SandboxHandle>,
}

impl Session {
    /// Loads the plan at `path` and connects as `connect` says, for a run in `mode`.
    pub async fn open(
        path: &Path,
        connect: &ConnectArgs,
        mode: RunMode,
    ) -> Result<Self, CommandError> {
        let loaded = plan::load(path).map_err(Box::new)?;
        print_warnings(&loaded);
        let plan = &loaded.plan;

        if let (Some(flag), Some(pinned)) = (&connect.account_id, plan.account_id())
            && flag.trim() != pinned.as_str()
        {
            return Err(CommandError::refused(
                format!(
                    "--account-id {flag} differs from the plan's account_id {pinned}; nothing was changed"
                ),
                "the plan pins its account: run it against that account, or fix the plan after review",
            ));
        }
        if let (Some(flag), Some(pinned)) = (&connect.region, plan.region())
            && flag != pinned
        {
            return Err(CommandError::refused(
                format!(
                    "--region {flag} differs from the plan's region {pinned}; nothing was changed"
                ),
                "the plan pins its region: run it in that region, or fix the plan after review",
            ));
        }
        if let (None, Some(pinned), Ok(env)) = (
            &connect.account_id,
            plan.account_id(),
            std::env::var("AWS_ACCOUNT_ID"),
        ) && !env.trim().is_empty()
            && env.trim() != pinned.as_str()
        {
            return Err(CommandError::refused(
                format!(
                    "AWS_ACCOUNT_ID {} differs from the plan's account_id {pinned}; nothing was changed",
                    env.trim()
                ),
                "the plan pins its account: use credentials for that account (unset AWS_ACCOUNT_ID), or fix the plan after review",
            ));
        }
        let region = connect
            .region
            .clone()
            .or_else(|| plan.region().map(str::to_owned));

        let (clients, sandbox, account) = match &connect.sandbox {
            Some(seed_path) => {
                let seed = match seed_path {
                    None => Seed::demo(),
                    Some(path) => {
                        Seed::from_file(path).map_err(|e| CommandError::Sandbox(e.to_string()))?
                    }
                };
                let handle = Sandbox::builder()
                    .seed(seed)
                    .speed(connect.sandbox_speed)
                    .start()
                    .await
                    .map_err(|e| CommandError::Sandbox(e.to_string()))?;
                let region = region.as_deref().unwrap_or(SANDBOX_REGION);
                let clients = AwsClients::sandbox(&handle.url(), region, Timeouts::default());
                // The sandbox has no STS and a user's AWS_ACCOUNT_ID names a real account: the demo account
                // is the default here.
                let account = connect
                    .account_id
                    .as_deref()
                    .or(plan.account_id().map(AccountId::as_str))
                    .unwrap_or(DEMO_ACCOUNT);
                let account =
                    AccountId::parse(account.trim()).map_err(|e| CommandError::Client(e.into()))?;
                (clients, Some(handle), account)
            }
            None => {
                let clients = AwsClients::load(&ClientSettings {
                    profile: connect.profile.clone(),
                    region,
                    endpoint_url: connect.endpoint_url.clone(),
                    timeouts: attempt_timeout()?,
                })
                .await?;
                let account = clients
                    .account_id(
                        connect.account_id.as_deref(),
                        plan.account_id().map(AccountId::as_str),
                    )
                    .await?;
                if connect.account_id.is_none() && plan.account_id().is_some() {
                    verify_pinned_account(&clients, &account).await?;
                }
                (clients, None, account)
            }
        };

        let target = Target {
            account_id: account.clone(),
            region: clients.region.clone(),
            endpoint: clients.endpoint.clone(),
        };
        let settings = RunSettings {
            concurrency: connect
                .concurrency
                .unwrap_or_else(|| plan.concurrency())
                .max(1),
            rate_limit: connect.rate_limit.unwrap_or_else(|| plan.rate_limit()),
            poll_rate_limit: connect
                .poll_rate_limit
                .unwrap_or_else(|| plan.poll_rate_limit()),
            poll_interval: connect
                .poll_interval
                .unwrap_or_else(|| plan.poll_interval()),
            mode,
        };
        for (flag, value) in [
            ("--rate-limit", settings.rate_limit),
            ("--poll-rate-limit", settings.poll_rate_limit),
        ] {
            if !(value.is_finite() && value > 0.0 && value <= plan::model::MAX_RATE_LIMIT) {
                return Err(CommandError::refused(
                    format!(
                        "{flag} {value} is not a number of calls per second above 0 and at most {}",
                        plan::model::MAX_RATE_LIMIT
                    ),
                    "give a rate such as 5 or 0.5",
                ));
            }
        }
        // The plan's own value is checked by validation; the flag gets the same range.
        if !plan::model::POLL_INTERVAL_RANGE.contains(&settings.poll_interval) {
            return Err(CommandError::refused(
                format!(
                    "--poll-interval {} is outside {} to {}",
                    humantime::format_duration(settings.poll_interval),
                    humantime::format_duration(*plan::model::POLL_INTERVAL_RANGE.start()),
                    humantime::format_duration(*plan::model::POLL_INTERVAL_RANGE.end()),
                ),
                "poll no more often than every 100ms: every poll takes a read permit",
            ));
        }
        let control = Arc::new(clients.job_control(account));
        Ok(Self {
            loaded,
            target,
            settings,
            control,
            sandbox,
        })
    }

    /// Resolves every entry into jobs (reads only), stopping early when `cancel` fires.
    pub async fn resolve(&self, cancel: &CancellationToken) -> Result<ResolvedPlan, CommandError> {
        let reader = Reader {
            limiter: Arc::new(Limiter::new(
                self.settings.rate_limit,
                self.settings.poll_rate_limit,
                self.settings.concurrency,
            )),
            policy: RetryPolicy::default(),
            cancel: cancel.clone(),
        };
        Ok(resolve::resolve(
            &self.loaded.plan,
            self.control.as_ref(),
            &reader,
            self.target.clone(),
            self.settings.clone(),
        )
        .await
        .map_err(Box::new)?)
    }
}

/// Against AWS's own endpoint, a plan that pins its account is checked against the account of the
/// credentials (STS GetCallerIdentity) before any call: running a plan with another account's credentials
/// is refused. Custom endpoints (a sandbox) have no STS and are not checked; an STS failure only warns,
/// since the run's first call will fail with the same credentials anyway.
async fn verify_pinned_account(
    clients: &AwsClients,
    pinned: &AccountId,
) -> Result<(), CommandError> {
    if clients.endpoint.is_some() {
        return Ok(());
    }
    let asked = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        clients.sts.get_caller_identity().send(),
    )
    .await;
    let Ok(answer) = asked else {
        tracing::warn!(
            "could not check the credentials' account against the plan's account_id {pinned}: STS did not answer within 10s"
        );
        return Ok(());
    };
    match answer {
        Ok(identity) => match identity.account() {
            Some(actual) if actual != pinned.as_str() => Err(CommandError::refused(
                format!(
                    "the credentials belong to account {actual}, but the plan pins account_id {pinned}; nothing was changed"
                ),
                "use credentials (or --profile) for the plan's account, or fix the plan after review",
            )),
            _ => Ok(()),
        },
        Err(error) => {
            tracing::warn!(
                "could not check the credentials' account against the plan's account_id {pinned}: {}",
                crate::api::aws::describe_sts_error(&error)
            );
            Ok(())
        }
    }
}

/// `S3PLAN_ATTEMPT_TIMEOUT` (e.g. `500ms`) shortens the per-attempt timeout: for tests of servers that stop
/// answering, and for operators behind slow links who want a longer one.
fn attempt_timeout() -> Result<Option<Timeouts>, CommandError> {
    let Ok(value) = std::env::var("S3PLAN_ATTEMPT_TIMEOUT") else {
        return Ok(None);
    };
    let attempt = humantime::parse_duration(value.trim()).map_err(|e| {
        CommandError::refused(
            format!("S3PLAN_ATTEMPT_TIMEOUT={value} is not a duration: {e}"),
            "give a duration such as 10s or 500ms, or unset it",
        )
    })?;
    Ok(Some(Timeouts {
        attempt,
        ..Timeouts::default()
    }))
}

fn print_warnings(loaded: &LoadedPlan) {
    if loaded.warnings.is_empty() {
        return;
    }
    let error = plan::PlanError {
        path: loaded.path.clone(),
        source_code: miette::NamedSource::new(
            loaded.path.display().to_string(),
            loaded.source.clone(),
        ),
        diagnostics: loaded.warnings.clone(),
    };
    eprintln!("{:?}", miette::Report::new(error));
}
