//! What `apply` and `plan` (and `jobs`, `cancel`, `confirm`, whose flags become plan text) share before
//! anything runs: load the plan, decide account, region, endpoint and limits (flags beat plan values, plan
//! values beat defaults), start the in-process sandbox for `--sandbox`, build the one AWS client, and
//! resolve the plan into jobs.
//!
//! Owns the safety checks made before any call that could change a job: a plan that pins its account or
//! region is refused when the flags name another. A saved plan (`s3plan plan --out`) is recognised here by
//! its marker: it is refused once older than its max age, it pins its account, region and endpoint, and
//! "resolving" it re-reads exactly its jobs and refuses when any moved (`saved.rs`). Does not prompt, run
//! or report (the commands do).

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::api::AccountId;
use crate::api::JobControl;
use crate::api::aws::AwsJobControl;
use crate::api::client::{
    AwsClients, ClientSettings, Timeouts, check_endpoint_answers, endpoint_authority,
    endpoint_source,
};
use crate::api::target_clients::{Base, CredentialSource, check_account};
use crate::cli::ConnectArgs;
use crate::errors::CommandError;
use crate::exec::emitter::Emitter;
use crate::exec::limiter::Limiter;
use crate::exec::retry::Caller;
use crate::exec::retry::RetryPolicy;
use crate::plan::TargetCredentials;
use crate::plan::{self, LoadedPlan};
use crate::report::json::PlanMeta;
use crate::resolve::{self, Place, Scope};
use crate::resolved::{ResolvedPlan, RunMode, RunSettings, Target};
use crate::sandbox::{Sandbox, SandboxHandle, Seed};
use crate::saved::{self, SavedPlan, SavedPlanError};
use futures::StreamExt as _;

/// The region the in-process sandbox signs for when neither the flag nor the plan names one.
const SANDBOX_REGION: &str = "us-east-1";

/// What a session runs: a plan file, or a saved plan made from one.
pub(crate) enum Origin {
    /// A validated plan file; its selectors are resolved.
    Plan(Box<LoadedPlan>),
    /// A saved plan; exactly its jobs are re-read and run.
    Saved(Box<SavedPlan>),
}

/// A loaded plan with everything needed to resolve and run it.
pub(crate) struct Session {
    /// The plan or saved plan.
    pub origin: Origin,
    /// Where the plan acts (one target for a plan without `targets:`), in plan order.
    pub targets: Vec<Target>,
    /// Which targets each entry runs in.
    pub scope: Scope,
    /// Merged limits and timings.
    pub settings: RunSettings,
    /// The job API of each target, in `targets` order.
    pub controls: Vec<Arc<AwsJobControl>>,
    /// The in-process sandbox, kept alive for the session (`--sandbox`).
    pub sandbox: Option<SandboxHandle>,
}

impl Session {
    /// Loads the plan (or saved plan) at `path` and connects as `connect` says, for a run in `mode`.
    pub async fn open(
        path: &Path,
        connect: &ConnectArgs,
        mode: RunMode,
    ) -> Result<Self, CommandError> {
        if let Some(saved) = saved::detect(path).map_err(refusal)? {
            return Self::open_saved(path, saved, connect, mode).await;
        }
        let loaded = plan::load(path).map_err(Box::new)?;
        Self::open_loaded(loaded, connect, mode).await
    }

    /// Loads plan text made in memory (by `cancel` and `confirm` from their flags) through the same
    /// validation as a file, shown under `name`, and connects as [`Session::open`] does.
    pub async fn open_text(
        name: &str,
        text: &str,
        connect: &ConnectArgs,
        mode: RunMode,
    ) -> Result<Self, CommandError> {
        let loaded = plan::load_str(name, text).map_err(Box::new)?;
        Self::open_loaded(loaded, connect, mode).await
    }

    async fn open_loaded(
        loaded: LoadedPlan,
        connect: &ConnectArgs,
        mode: RunMode,
    ) -> Result<Self, CommandError> {
        print_warnings(&loaded);
        if !loaded.plan.targets().is_empty() {
            return Self::open_targets(loaded, connect, mode).await;
        }
        if !connect.targets.is_empty() {
            return Err(CommandError::refused(
                "--target names a target, but the plan has no `targets:`; nothing was changed",
                "drop --target, or list the plan's places under `targets:` (docs/plan.md, Targets)",
            ));
        }
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

        let (clients, sandbox, account) =
            connect_to(connect, region, plan.account_id().map(AccountId::as_str)).await?;
        let target = Target {
            name: None,
            account_id: account.clone(),
            region: clients.region.clone(),
            endpoint: clients.endpoint.clone(),
        };
        let settings = merge_settings(
            connect,
            RunSettings {
                concurrency: plan.concurrency(),
                rate_limit: plan.rate_limit(),
                poll_rate_limit: plan.poll_rate_limit(),
                poll_interval: plan.poll_interval(),
                mode,
            },
        )?;
        let control = Arc::new(clients.job_control(account));
        let scope = Scope::single(&loaded.plan);
        Ok(Self {
            origin: Origin::Plan(Box::new(loaded)),
            targets: vec![target],
            scope,
            settings,
            controls: vec![control],
            sandbox,
        })
    }

    /// Opens a plan with `targets:`: the `--target` selection, then one client per target with its region
    /// and credentials, each checked against its account before anything is resolved (every failing
    /// target named at once, nothing changed). Targets whose jobs no entry of this run acts on but whose
    /// job a gate watches are connected too (read only).
    async fn open_targets(
        loaded: LoadedPlan,
        connect: &ConnectArgs,
        mode: RunMode,
    ) -> Result<Self, CommandError> {
        let plan = &loaded.plan;
        for (flag, given) in [
            ("--account-id", connect.account_id.is_some()),
            ("--region", connect.region.is_some()),
        ] {
            if given {
                return Err(CommandError::refused(
                    format!(
                        "{flag} cannot be used with a plan that has `targets:` (each target names its account and region); nothing was changed"
                    ),
                    "drop the flag; to act in some targets only, pass --target NAME (repeatable)",
                ));
            }
        }
        let all = plan.targets();
        let selected: Vec<usize> = if connect.targets.is_empty() {
            (0..all.len()).collect()
        } else {
            plan.select_targets(&connect.targets).map_err(|unknown| {
                CommandError::refused(
                    format!(
                        "--target {} names no target of the plan; nothing was changed",
                        unknown.join(", ")
                    ),
                    format!(
                        "the plan's targets are: {}",
                        all.iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?
        };
        // Entries in the selected targets only; gates keep the target they watch, connected for reads.
        let entries: Vec<Vec<usize>> = plan
            .entries()
            .map(|entry| {
                entry
                    .target_indexes(plan)
                    .into_iter()
                    .filter(|t| selected.contains(t))
                    .collect()
            })
            .collect();
        let gates: Vec<Option<usize>> = plan
            .entries()
            .zip(&entries)
            .map(|(entry, runs_in)| {
                entry
                    .gate(plan)
                    .filter(|_| !runs_in.is_empty())
                    .and_then(|spec| spec.job.and(spec.target))
            })
            .collect();
        let mut used: Vec<usize> = selected.clone();
        used.extend(gates.iter().flatten().copied());
        used.sort_unstable();
        used.dedup();
        // Plan target index -> index among the connected ones.
        let site = |plan_index: usize| used.iter().position(|&u| u == plan_index);
        let scope = Scope {
            entries: entries
                .iter()
                .map(|ts| ts.iter().filter_map(|&t| site(t)).collect())
                .collect(),
            gates: gates.iter().map(|g| g.and_then(site)).collect(),
        };

        let timeouts = attempt_timeout()?.unwrap_or_default();
        let first_region = used
            .first()
            .and_then(|&t| all.get(t))
            .map_or(SANDBOX_REGION, |t| t.region.as_str())
            .to_owned();
        let (base, sandbox) = match &connect.sandbox {
            Some(seed_path) => {
                let handle = start_sandbox(seed_path, connect).await?;
                (
                    Base::sandbox(&handle.url(), &first_region, timeouts),
                    Some(handle),
                )
            }
            None => {
                let endpoint = match endpoint_source(connect.endpoint_url.as_deref()) {
                    Some((from, url)) => {
                        let authority = endpoint_authority(from, &url)?;
                        check_endpoint_answers(from, &url, &authority, timeouts.connect).await?;
                        Some(url)
                    }
                    None => None,
                };
                let base = Base::load(
                    connect.profile.as_deref(),
                    &first_region,
                    endpoint,
                    timeouts,
                )
                .await;
                (base, None)
            }
        };
        let session_name = role_session_name();
        let checks = used.iter().filter_map(|&t| all.get(t)).map(|target| {
            let base = &base;
            let session_name = &session_name;
            async move {
                let source = match &target.credentials {
                    TargetCredentials::Chain => CredentialSource::Chain,
                    TargetCredentials::Profile(name) => CredentialSource::Profile(name.clone()),
                    TargetCredentials::AssumeRole { role_arn } => CredentialSource::AssumeRole {
                        role_arn: role_arn.clone(),
                        session_name: session_name.clone(),
                    },
                };
                let clients = base.clients(&target.region, &source).await?;
                check_account(&clients, &target.account_id).await?;
                Ok::<_, String>(clients.clients)
            }
        });
        let checked: Vec<Result<AwsClients, String>> = futures::stream::iter(checks)
            .buffered(TARGET_CHECK_CONCURRENCY)
            .collect()
            .await;
        let mut failing = Vec::new();
        let mut targets = Vec::new();
        let mut controls = Vec::new();
        for (&t, result) in used.iter().zip(checked) {
            let Some(target) = all.get(t) else { continue };
            match result {
                Ok(clients) => {
                    targets.push(Target {
                        name: Some(target.name.clone()),
                        account_id: target.account_id.clone(),
                        region: target.region.clone(),
                        endpoint: clients.endpoint.clone(),
                    });
                    controls.push(Arc::new(clients.job_control(target.account_id.clone())));
                }
                Err(why) => failing.push(format!(
                    "  target {} (account {}, {}, {}): {why}",
                    target.name,
                    target.account_id,
                    target.region,
                    credentials_shown(&target.credentials)
                )),
            }
        }
        if !failing.is_empty() {
            if let Some(handle) = sandbox {
                handle.shutdown().await;
            }
            return Err(CommandError::refused(
                format!(
                    "{} of {} cannot be reached with {} credentials; nothing was resolved or changed:\n{}",
                    failing.len(),
                    crate::text::plural(used.len(), "target"),
                    if failing.len() == 1 { "its" } else { "their" },
                    failing.join("\n")
                ),
                "fix the credentials of each target named (a profile: `aws configure list --profile NAME`; a role: its trust policy must let the base credentials assume it), or leave it out of this run with --target",
            ));
        }
        let settings = merge_settings(
            connect,
            RunSettings {
                concurrency: plan.concurrency(),
                rate_limit: plan.rate_limit(),
                poll_rate_limit: plan.poll_rate_limit(),
                poll_interval: plan.poll_interval(),
                mode,
            },
        )?;
        Ok(Self {
            origin: Origin::Plan(Box::new(loaded)),
            targets,
            scope,
            settings,
            controls,
            sandbox,
        })
    }

    /// Opens a saved plan, which expires after its `max_age` and pins its targets (account, region and
    /// endpoint each): for a saved plan of one unnamed target, `--account-id`, `AWS_ACCOUNT_ID` and
    /// `--region`, when given, must name the recorded ones; a saved plan over named targets takes neither
    /// flag. The run must go to the endpoint it was reviewed against (AWS's own, or the same custom URL).
    async fn open_saved(
        path: &Path,
        saved: SavedPlan,
        connect: &ConnectArgs,
        mode: RunMode,
    ) -> Result<Self, CommandError> {
        saved
            .check_age(path, jiff::Timestamp::now())
            .map_err(refusal)?;
        let targets = saved.run_targets().map_err(refusal)?;
        let settings = merge_settings(connect, saved.run_settings(mode))?;
        let scope = Scope {
            entries: Vec::new(),
            gates: Vec::new(),
        };
        // A saved plan without `targets:` keeps the flags and checks of one place; one over named targets
        // connects to each.
        let single = match targets.as_slice() {
            [only] if only.name.is_none() => Some(only.clone()),
            _ => None,
        };
        let Some(only) = single else {
            let (controls, sandbox) = connect_saved_targets(&saved, &targets, connect).await?;
            return Ok(Self {
                origin: Origin::Saved(Box::new(saved)),
                targets,
                scope,
                settings,
                controls,
                sandbox,
            });
        };
        let recorded = only.account_id.as_str();
        let env = std::env::var("AWS_ACCOUNT_ID")
            .ok()
            .filter(|v| !v.trim().is_empty());
        for (source, value) in [
            ("--account-id", connect.account_id.as_deref()),
            ("AWS_ACCOUNT_ID", env.as_deref()),
        ] {
            if let Some(value) = value
                && value.trim() != recorded
            {
                return Err(CommandError::refused(
                    format!(
                        "{source} {} differs from the saved plan's account {recorded}; nothing was changed",
                        value.trim()
                    ),
                    "a saved plan applies only to the account it was reviewed in: make a new plan with `s3plan plan --out` for this account",
                ));
            }
        }
        if let Some(flag) = &connect.region
            && flag != &only.region
        {
            return Err(CommandError::refused(
                format!(
                    "--region {flag} differs from the saved plan's region {}; nothing was changed",
                    only.region
                ),
                "a saved plan applies only to the region it was reviewed in: make a new plan with `s3plan plan --out` for this region",
            ));
        }
        let (clients, sandbox, account) =
            connect_to(connect, Some(only.region.clone()), Some(recorded)).await?;
        if account.as_str() != recorded || clients.region != only.region {
            return Err(CommandError::refused(
                format!(
                    "this run targets account {account} in {}, the saved plan account {recorded} in {}; nothing was changed",
                    clients.region, only.region
                ),
                "make a new plan with `s3plan plan --out` for this account and region",
            ));
        }
        if !same_endpoint(only.endpoint.as_deref(), clients.endpoint.as_deref()) {
            // Another endpoint is another set of jobs (another sandbox, or a proxy in front of another
            // partition): the review says nothing about them, even when the job ids happen to match.
            return Err(CommandError::refused(
                format!(
                    "the saved plan was reviewed against endpoint {}, this run would go to {}; nothing was changed",
                    shown_endpoint(only.endpoint.as_deref()),
                    shown_endpoint(clients.endpoint.as_deref())
                ),
                "apply it against the endpoint it was reviewed against (--endpoint-url, or none for AWS), or make a new plan with `s3plan plan --out` for this endpoint",
            ));
        }
        let target = Target {
            name: None,
            account_id: account.clone(),
            region: clients.region.clone(),
            endpoint: clients.endpoint.clone(),
        };
        let control = Arc::new(clients.job_control(account));
        Ok(Self {
            origin: Origin::Saved(Box::new(saved)),
            targets: vec![target],
            scope,
            settings,
            controls: vec![control],
            sandbox,
        })
    }

    /// The plan file's path and hash, for reports.
    pub fn plan_meta(&self) -> PlanMeta {
        match &self.origin {
            Origin::Plan(loaded) => PlanMeta {
                path: loaded.path.display().to_string(),
                sha256: loaded.sha256.clone(),
            },
            Origin::Saved(saved) => PlanMeta {
                path: saved.plan.path.display().to_string(),
                sha256: saved.plan.sha256.clone(),
            },
        }
    }

    /// Resolves every entry into jobs (reads only), stopping early when `cancel` fires. A saved plan is
    /// re-read job by job instead, and refused when a job moved.
    pub async fn resolve(&self, cancel: &CancellationToken) -> Result<ResolvedPlan, CommandError> {
        self.resolve_with(&self.controls, cancel).await
    }

    /// [`Session::resolve`] through `controls`, one per target (e.g. wrappers that record what they read).
    pub async fn resolve_with<C: JobControl>(
        &self,
        controls: &[Arc<C>],
        cancel: &CancellationToken,
    ) -> Result<ResolvedPlan, CommandError> {
        let readers = self.readers(cancel);
        let places = self.places(controls, &readers);
        match &self.origin {
            Origin::Plan(loaded) => {
                let resolving =
                    resolve::resolve(&loaded.plan, &places, &self.scope, self.settings.clone());
                let health: Vec<_> = self.controls.iter().map(|c| c.health()).collect();
                Ok(
                    with_patience_notes(resolving, self.settings.poll_rate_limit, health)
                        .await
                        .map_err(Box::new)?,
                )
            }
            Origin::Saved(saved) => {
                let resolved = saved.recheck(&places, self.settings.clone()).await;
                if cancel.is_cancelled() {
                    return Err(CommandError::Interrupted);
                }
                resolved.map_err(refusal)
            }
        }
    }

    /// The targets as the resolver and the forecast read them: each with its control and reader.
    pub fn places<'a, C>(
        &'a self,
        controls: &'a [Arc<C>],
        readers: &'a [Caller],
    ) -> Vec<Place<'a, C>> {
        self.targets
            .iter()
            .zip(controls)
            .zip(readers)
            .map(|((target, control), reader)| Place {
                control: control.as_ref(),
                reader,
                target,
            })
            .collect()
    }

    /// One `Caller` per target for reads outside a run (resolution, gate subjects, saved-plan re-checks):
    /// each target's own read limit (AWS limits each account in each region) and the default retry policy.
    pub fn readers(&self, cancel: &CancellationToken) -> Vec<Caller> {
        self.targets.iter().map(|_| self.reader(cancel)).collect()
    }

    /// A `Caller` for reads outside a run under one target's read limit, with the default retry policy.
    pub fn reader(&self, cancel: &CancellationToken) -> Caller {
        Caller {
            limiter: Arc::new(Limiter::new(
                self.settings.rate_limit,
                self.settings.poll_rate_limit,
                self.settings.concurrency,
            )),
            emitter: Emitter::detached(),
            policy: RetryPolicy::default(),
            cancel: cancel.clone(),
        }
    }
}

/// Connects to every target of a saved plan over named targets: one client per target with the credentials
/// the plan gave it, each checked to reach its account (the sandbox's STS answers for `--sandbox`) and to go
/// to the endpoint it was reviewed against. Every failing target is named at once; nothing is read before.
async fn connect_saved_targets(
    saved: &SavedPlan,
    targets: &[Target],
    connect: &ConnectArgs,
) -> Result<(Vec<Arc<AwsJobControl>>, Option<SandboxHandle>), CommandError> {
    use crate::api::target_clients::{Base, CredentialSource, check_account};
    use crate::saved::SavedCredentials;

    if let Some((flag, _)) = [
        ("--account-id", &connect.account_id),
        ("--region", &connect.region),
    ]
    .into_iter()
    .find(|(_, value)| value.is_some())
    {
        return Err(CommandError::refused(
            format!(
                "{flag} cannot be used with a saved plan over targets: each target names its own account and region; nothing was changed"
            ),
            "drop the flag: the saved plan applies to the targets it was reviewed in",
        ));
    }
    let Some(first) = targets.first() else {
        return Err(refusal(saved::SavedPlanError::Field {
            field: "targets",
            problem: "the saved plan lists no target".to_owned(),
        }));
    };
    let timeouts = attempt_timeout()?.unwrap_or_default();
    let (base, sandbox) = match &connect.sandbox {
        Some(seed_path) => {
            let handle = start_sandbox(seed_path, connect).await?;
            (
                Base::sandbox(&handle.url(), &first.region, timeouts),
                Some(handle),
            )
        }
        None => {
            let base = Base::load(
                connect.profile.as_deref(),
                &first.region,
                connect.endpoint_url.clone(),
                timeouts,
            )
            .await;
            (base, None)
        }
    };
    // Against a custom endpoint other than the sandbox there is no STS to ask (as for a plan's pinned
    // account): the endpoint check below is what ties the run to the review.
    let checks_account = connect.sandbox.is_some() || connect.endpoint_url.is_none();
    let session_name = role_session_name();
    let connecting = saved.targets.iter().zip(targets).map(|(recorded, target)| {
        let base = &base;
        let session_name = session_name.clone();
        async move {
            let source = match &recorded.credentials {
                SavedCredentials::Chain => CredentialSource::Chain,
                SavedCredentials::Profile(name) => CredentialSource::Profile(name.clone()),
                SavedCredentials::RoleArn(role_arn) => CredentialSource::AssumeRole {
                    role_arn: role_arn.clone(),
                    session_name,
                },
            };
            let clients = base.clients(&target.region, &source).await?;
            if !same_endpoint(
                target.endpoint.as_deref(),
                clients.clients.endpoint.as_deref(),
            ) {
                return Err(format!(
                    "it was reviewed against endpoint {}, this run would go to {}",
                    shown_endpoint(target.endpoint.as_deref()),
                    shown_endpoint(clients.clients.endpoint.as_deref())
                ));
            }
            if checks_account {
                check_account(&clients, &target.account_id).await?;
            }
            Ok(clients.clients)
        }
    });
    let mut controls = Vec::with_capacity(targets.len());
    let mut failed = Vec::new();
    for (target, connected) in targets
        .iter()
        .zip(futures::future::join_all(connecting).await)
    {
        match connected {
            Ok(clients) => controls.push(Arc::new(clients.job_control(target.account_id.clone()))),
            Err(why) => failed.push(format!("target {}: {why}", target.label())),
        }
    }
    if !failed.is_empty() {
        if let Some(sandbox) = sandbox {
            sandbox.shutdown().await;
        }
        return Err(CommandError::refused(
            format!(
                "the saved plan cannot reach {}: {}; nothing was changed",
                crate::text::plural(failed.len(), "target"),
                failed.join("; ")
            ),
            "fix the credentials (or --endpoint-url) of each target named, or make a new plan with `s3plan plan --out`",
        ));
    }
    Ok((controls, sandbox))
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

/// Targets whose credentials are checked at once before a run.
const TARGET_CHECK_CONCURRENCY: usize = 16;

/// The `RoleSessionName` of every role a run assumes: s3plan and the run (operator and start time), so the
/// role's CloudTrail says who changed the jobs. At most 64 characters of `[\w+=,.@-]`.
fn role_session_name() -> String {
    let who: String = std::env::var("USER")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
        .take(24)
        .collect();
    let when = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    let name = if who.is_empty() {
        format!("s3plan-{when}-{}", std::process::id())
    } else {
        format!("s3plan-{who}-{when}")
    };
    name.chars().take(64).collect()
}

/// How a target's credentials are found, in words.
fn credentials_shown(credentials: &TargetCredentials) -> String {
    match credentials {
        TargetCredentials::Chain => "the standard credential chain".to_owned(),
        TargetCredentials::Profile(name) => format!("profile {name}"),
        TargetCredentials::AssumeRole { role_arn } => format!("role {role_arn}"),
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

/// Whether two endpoints are the same, ignoring a trailing `/` (the same URL as typed by two people).
pub(crate) fn same_endpoint(a: Option<&str>, b: Option<&str>) -> bool {
    a.map(|url| url.trim_end_matches('/')) == b.map(|url| url.trim_end_matches('/'))
}

/// An endpoint as the operator names it: the custom URL, or AWS's own when there is none.
pub(crate) fn shown_endpoint(endpoint: Option<&str>) -> String {
    endpoint.map_or_else(|| "AWS (default)".to_owned(), str::to_owned)
}

/// A saved plan that cannot be read or applied is refused with what to do next.
fn refusal(error: SavedPlanError) -> CommandError {
    let help = match &error {
        SavedPlanError::Format { .. }
        | SavedPlanError::Version { .. }
        | SavedPlanError::Field { .. } => {
            "make the saved plan again with `s3plan plan PLAN --out SAVED.json`"
        }
        SavedPlanError::Expired { .. } => {
            "the review is too old to trust: run `s3plan plan PLAN --out SAVED.json` again (and `--max-age` for a longer life)"
        }
        SavedPlanError::PlanChanged { .. } => {
            "the plan was edited after the review: review it again with `s3plan plan PLAN --out SAVED.json`"
        }
        SavedPlanError::Moved { list, .. } => {
            // One plain line per job, above the diagnostic (which would re-wrap them).
            crate::console::note(format_args!("jobs that moved since the review:\n{list}\n"));
            "the jobs are no longer as reviewed: review them again with `s3plan plan PLAN --out SAVED.json`"
        }
    };
    CommandError::refused(error.to_string(), help)
}

/// Flags beat the plan's (or saved plan's) limits; rates must be positive.
fn merge_settings(connect: &ConnectArgs, base: RunSettings) -> Result<RunSettings, CommandError> {
    let settings = RunSettings {
        concurrency: connect.concurrency.unwrap_or(base.concurrency).max(1),
        rate_limit: connect.rate_limit.unwrap_or(base.rate_limit),
        poll_rate_limit: connect.poll_rate_limit.unwrap_or(base.poll_rate_limit),
        poll_interval: connect.poll_interval.unwrap_or(base.poll_interval),
        mode: base.mode,
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
    Ok(settings)
}

/// Builds the clients (or starts the in-process sandbox) for `region` and decides the account: the flag,
/// then `account_pin` (the plan's), then the environment or STS.
/// Starts the in-process sandbox `--sandbox` asks for: the demo seed or the given file, at the asked speed.
pub(crate) async fn start_sandbox(
    seed_path: &Option<std::path::PathBuf>,
    connect: &ConnectArgs,
) -> Result<SandboxHandle, CommandError> {
    let seed = match seed_path {
        None => Seed::demo(),
        Some(path) => Seed::from_file(path).map_err(|e| CommandError::Sandbox(e.to_string()))?,
    };
    // The same default as `s3plan sandbox --speed`: the flag, else the seed's own, else 60.
    let speed = connect
        .sandbox_speed
        .or(seed.speed)
        .unwrap_or(crate::cli::SANDBOX_SPEED);
    Sandbox::builder()
        .seed(seed)
        .speed(speed)
        .start()
        .await
        .map_err(|e| CommandError::Sandbox(e.to_string()))
}

async fn connect_to(
    connect: &ConnectArgs,
    region: Option<String>,
    account_pin: Option<&str>,
) -> Result<(AwsClients, Option<SandboxHandle>, AccountId), CommandError> {
    let found = match &connect.sandbox {
        Some(seed_path) => {
            let handle = start_sandbox(seed_path, connect).await?;
            let region = region.as_deref().unwrap_or(SANDBOX_REGION);
            let clients = AwsClients::sandbox(&handle.url(), region, Timeouts::default());
            // A user's AWS_ACCOUNT_ID names a real account, not a sandbox one: without the flag or the
            // plan, the sandbox's own STS says which account its credentials belong to (the seed's
            // `caller_accounts`, else its first account).
            let account = match connect.account_id.as_deref().or(account_pin) {
                Some(account) => {
                    AccountId::parse(account.trim()).map_err(|e| CommandError::Client(e.into()))?
                }
                None => clients.caller_account().await?,
            };
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
                .account_id(connect.account_id.as_deref(), account_pin)
                .await?;
            if connect.account_id.is_none()
                && let Some(pin) = account_pin
                && pin == account.as_str()
            {
                verify_pinned_account(&clients, &account).await?;
            }
            (clients, None, account)
        }
    };

    Ok(found)
}

fn print_warnings(loaded: &LoadedPlan) {
    // `-q`: stderr is for errors only (`s3plan validate` still shows warnings).
    if loaded.warnings.is_empty() || crate::text::is_quiet() {
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
    crate::console::note(format_args!("{:?}\n", miette::Report::new(error)));
}

/// How long resolution runs before the operator is told it is still working, and how often after that.
const PATIENCE_NOTE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `work`, printing a line on stderr every few seconds while it lasts: a selector over many jobs, or
/// tag lookups at a low `poll_rate_limit`, can take minutes, and silence before the confirmation prompt
/// reads as a hang.
async fn with_patience_notes<T>(
    work: impl Future<Output = T>,
    read_rate: f64,
    health: Vec<&crate::api::aws::CallHealth>,
) -> T {
    let started = tokio::time::Instant::now();
    let mut notes = tokio::time::interval_at(started + PATIENCE_NOTE_EVERY, PATIENCE_NOTE_EVERY);
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = notes.tick() => {
                let after = started.elapsed().as_secs();
                // Failing calls are retried with backoff: that, not the read rate, is the wait.
                match health.iter().find_map(|h| h.failing()) {
                    Some((count, last)) => crate::note!(
                        "still resolving the plan after {after}s: the endpoint is not answering ({} failed, last: {last}); retrying",
                        crate::text::plural(usize::try_from(count).unwrap_or(usize::MAX), "call")
                    ),
                    None => crate::note!(
                        "still resolving the plan after {after}s (ListJobs, DescribeJob and GetJobTagging at most {read_rate}/s; raise poll_rate_limit to go faster)"
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::Operation;

    /// Two accounts; the sandbox's credentials belong to the second, so only its STS can tell.
    const TWO_ACCOUNTS: &str = r#"
caller_accounts: {sandbox: "444455556666"}
accounts:
  - id: "111122223333"
    jobs: [{id: first-account-job, status: Suspended}]
  - id: "444455556666"
    jobs: [{id: second-account-job, status: Suspended}]
"#;

    fn sandbox_args(seed: &std::path::Path, account_id: Option<&str>) -> ConnectArgs {
        ConnectArgs {
            account_id: account_id.map(str::to_owned),
            region: None,
            profile: None,
            endpoint_url: None,
            sandbox: Some(Some(seed.to_owned())),
            sandbox_speed: Some(0.0),
            concurrency: None,
            rate_limit: None,
            poll_rate_limit: None,
            poll_interval: None,
            targets: Vec::new(),
        }
    }

    #[tokio::test]
    async fn the_sandbox_answers_the_account_lookup_on_its_own_sts() {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed.yaml");
        std::fs::write(&seed, TWO_ACCOUNTS).unwrap();

        let (_, handle, account) = connect_to(&sandbox_args(&seed, None), None, None)
            .await
            .unwrap();
        let handle = handle.unwrap();
        assert_eq!(account.as_str(), "444455556666");
        assert_eq!(handle.calls(Operation::GetCallerIdentity), 1);
    }

    #[tokio::test]
    async fn an_account_given_by_flag_or_plan_asks_no_sts() {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed.yaml");
        std::fs::write(&seed, TWO_ACCOUNTS).unwrap();

        let flag = sandbox_args(&seed, Some("111122223333"));
        let (_, handle, account) = connect_to(&flag, None, None).await.unwrap();
        assert_eq!(account.as_str(), "111122223333");
        assert_eq!(handle.unwrap().calls(Operation::GetCallerIdentity), 0);

        let (_, handle, account) =
            connect_to(&sandbox_args(&seed, None), None, Some("111122223333"))
                .await
                .unwrap();
        assert_eq!(account.as_str(), "111122223333");
        assert_eq!(handle.unwrap().calls(Operation::GetCallerIdentity), 0);
    }

    #[test]
    fn endpoints_differing_only_by_a_trailing_slash_are_the_same() {
        assert!(same_endpoint(
            Some("http://127.0.0.1:9000/"),
            Some("http://127.0.0.1:9000")
        ));
        assert!(same_endpoint(None, None));
        assert!(!same_endpoint(Some("http://127.0.0.1:9000"), None));
        assert!(!same_endpoint(
            Some("http://127.0.0.1:9000"),
            Some("http://127.0.0.1:9001")
        ));
    }
}
