//! Starting and stopping a sandbox: [`Sandbox::builder`] → [`SandboxBuilder::start`] → [`SandboxHandle`].
//!
//! Owns the public in-process API used by tests, benches and `s3plan sandbox`. Requests are served by
//! `router.rs` (job API, any `Host`, absolute-form URIs too) and `admin.rs` (`/_sandbox/`) over the state in
//! `state.rs`; connections are `connection.rs`'s.
//!
//! ```no_run
//! # async fn demo() -> Result<(), s3plan::sandbox::SandboxError> {
//! use s3plan::sandbox::{Operation, Sandbox, Seed};
//! let sandbox = Sandbox::builder().seed(Seed::demo()).speed(0.0).bind("127.0.0.1:0").start().await?;
//! println!("{}", sandbox.url()); // http://127.0.0.1:PORT
//! // … point an aws-sdk-s3control client at sandbox.url() with a fixed endpoint resolver …
//! sandbox.advance(std::time::Duration::from_secs(60));
//! let confirms = sandbox.audit_for(Some(Operation::UpdateJobStatus), None);
//! sandbox.shutdown().await;
//! # let _ = confirms; Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::audit::{AuditEntry, AuditLog};
use super::auth::{AuthMode, Credentials};
use super::clock::{SimClock, SimTime};
use super::connection::{ConnKill, SandboxListener};
use super::error::SandboxError;
use super::knobs::{KnobState, Knobs, ScriptedFault, Throttle};
use super::lifecycle::{JobStatus, TransitionRules};
use super::operation::Operation;
use super::router;
use super::seed::Seed;
use super::state::{Callers, Shared};
use super::store::{Scope, Store};

/// Entry point of the in-process API.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// A builder with the demo seed, real-time speed, no knobs, no credentials, `127.0.0.1:0`.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            seed: None,
            speed: None,
            knobs: None,
            throttles: Vec::new(),
            credentials: Vec::new(),
            audit_log: None,
            bind: "127.0.0.1:0".to_owned(),
            start_time: None,
            rules: None,
        }
    }
}

/// Configures a sandbox; explicit builder settings override the seed's.
#[derive(Debug)]
pub struct SandboxBuilder {
    seed: Option<Seed>,
    speed: Option<f64>,
    knobs: Option<Knobs>,
    throttles: Vec<(Option<Operation>, Throttle)>,
    credentials: Vec<Credentials>,
    audit_log: Option<PathBuf>,
    bind: String,
    start_time: Option<SimTime>,
    rules: Option<TransitionRules>,
}

impl SandboxBuilder {
    /// The accounts and jobs to start with (default: [`Seed::demo`]).
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sandbox seconds per real second (default 1; 0 freezes time except for [`SandboxHandle::advance`]).
    pub fn speed(mut self, speed: f64) -> Self {
        self.speed = Some(speed);
        self
    }

    /// Sandbox time at start (default: the seed's `start_time`, else now).
    pub fn start_time(mut self, start: jiff::Timestamp) -> Self {
        self.start_time = Some(SimTime::from_timestamp(start));
        self
    }

    /// All knobs at once (replaces the seed's knobs; later [`throttle`](Self::throttle) calls still apply).
    pub fn knobs(mut self, knobs: Knobs) -> Self {
        self.knobs = Some(knobs);
        self
    }

    /// Throttles `op` (or every operation when `None`) with a token bucket.
    pub fn throttle(mut self, op: Option<Operation>, throttle: Throttle) -> Self {
        self.throttles.push((op, throttle));
        self
    }

    /// Verifies SigV4 signatures against these keys (may be called several times).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials.push(credentials);
        self
    }

    /// Also appends audit entries as JSON lines to `path`.
    pub fn audit_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.audit_log = Some(path.into());
        self
    }

    /// Listen address (default `127.0.0.1:0`, a free port).
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.bind = addr.into();
        self
    }

    /// The UpdateJobStatus choices AWS does not document (default: the ones in `docs/sandbox.md`).
    pub fn rules(mut self, rules: TransitionRules) -> Self {
        self.rules = Some(rules);
        self
    }

    /// Loads the seed, binds the address and starts serving on the current Tokio runtime.
    pub async fn start(self) -> Result<SandboxHandle, SandboxError> {
        let seed = self.seed.unwrap_or_else(Seed::demo);
        let start = match self.start_time {
            Some(t) => t,
            None => seed.start()?.unwrap_or_else(SimTime::wall_now),
        };
        let speed = self.speed.or(seed.speed).unwrap_or(1.0);
        if !(speed.is_finite() && speed >= 0.0) {
            return Err(SandboxError::InvalidKnob(format!(
                "speed must be a non-negative number, got {speed}"
            )));
        }
        let mut knobs = self
            .knobs
            .or_else(|| seed.knobs.clone())
            .unwrap_or_default();
        for (op, throttle) in self.throttles {
            match op {
                Some(op) => {
                    knobs.throttle.insert(op, throttle);
                }
                None => knobs.throttle_all = Some(throttle),
            }
        }
        knobs.validate()?;
        let rules = self.rules.or(seed.rules).unwrap_or_default();
        let mut store = Store::new(
            seed.region
                .clone()
                .unwrap_or_else(|| "us-east-1".to_owned()),
            rules,
            seed.random_seed.unwrap_or(0),
        );
        seed.load_into(&mut store, start)?;
        let mut credentials = seed.credentials.clone();
        credentials.extend(self.credentials);
        let auth = if credentials.is_empty() {
            AuthMode::RequireHeader
        } else {
            AuthMode::Verify(credentials)
        };
        let audit = AuditLog::new(self.audit_log.as_deref())?;
        let shared = Arc::new(Shared::new(
            SimClock::new(start, speed),
            store,
            KnobState::new(knobs),
            auth,
            audit,
            seed.random_seed.unwrap_or(0),
            Callers {
                accounts: seed.caller_accounts.clone(),
                default: seed
                    .accounts
                    .first()
                    .map_or_else(|| super::seed::DEMO_ACCOUNT.to_owned(), |a| a.id.clone()),
            },
        ));
        let listener =
            TcpListener::bind(&self.bind)
                .await
                .map_err(|source| SandboxError::Bind {
                    addr: self.bind.clone(),
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: self.bind.clone(),
            source,
        })?;
        let app = axum::Router::new()
            .fallback(router::handle)
            .with_state(Arc::clone(&shared))
            .into_make_service_with_connect_info::<ConnKill>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let served = axum::serve(SandboxListener { inner: listener }, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
            if let Err(err) = served {
                tracing::error!("sandbox server stopped: {err}");
            }
        });
        tracing::info!(%addr, "sandbox listening");
        Ok(SandboxHandle {
            addr,
            shared,
            stop: Some(stop_tx),
            server: Some(server),
        })
    }
}

/// A running sandbox. Dropping it stops the server (without waiting); prefer [`SandboxHandle::shutdown`].
#[derive(Debug)]
pub struct SandboxHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl SandboxHandle {
    /// The bound address (with the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the endpoint to give a client's fixed endpoint resolver.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Current sandbox time.
    pub fn now(&self) -> jiff::Timestamp {
        self.shared.clock.now().to_timestamp()
    }

    /// Moves sandbox time forward (statuses, dates and progress follow on the next read).
    pub fn advance(&self, by: Duration) {
        self.shared
            .clock
            .advance_ms(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
    }

    /// Changes the clock speed from now on.
    pub fn set_speed(&self, speed: f64) {
        self.shared.clock.set_speed(speed);
    }

    /// The knobs in force.
    pub fn knobs(&self) -> Knobs {
        self.shared.knobs().knobs().clone()
    }

    /// Replaces the knobs (buckets refill, generator reseeds).
    pub fn set_knobs(&self, knobs: Knobs) -> Result<(), SandboxError> {
        knobs.validate()?;
        self.shared.knobs().set(knobs);
        Ok(())
    }

    /// Installs a deterministic fault (e.g. `ScriptedFault::throttle(Operation::UpdateJobStatus).on_call(3)`).
    pub fn script(&self, fault: ScriptedFault) {
        self.shared.knobs().script(fault);
    }

    /// Removes all scripted faults not yet used up.
    pub fn clear_scripted(&self) {
        self.shared.knobs().clear_scripted();
    }

    /// Every audit entry so far (mutating calls only, in arrival order).
    pub fn audit(&self) -> Vec<AuditEntry> {
        self.shared.audit.entries()
    }

    /// Audit entries for `operation` and/or `job_id`.
    pub fn audit_for(&self, operation: Option<Operation>, job_id: Option<&str>) -> Vec<AuditEntry> {
        self.shared.audit.filter(operation, job_id)
    }

    /// Calls of `op` so far (reads included, whatever the outcome).
    pub fn calls(&self, op: Operation) -> u64 {
        self.shared.calls.get(op)
    }

    /// Calls of every operation so far.
    pub fn call_counts(&self) -> std::collections::BTreeMap<Operation, u64> {
        self.shared.calls.all()
    }

    /// A job's status now in the default region (`None` when unknown or expired).
    pub fn job_status(&self, account: &str, job_id: &str) -> Option<JobStatus> {
        let region = self.shared.store().region().to_owned();
        self.job_status_in(account, &region, job_id)
    }

    /// A job's status now in `region` (`None` when unknown or expired).
    pub fn job_status_in(&self, account: &str, region: &str, job_id: &str) -> Option<JobStatus> {
        let now = self.shared.clock.now();
        self.shared
            .store()
            .job(Scope::new(account, region), job_id, now)
            .ok()
            .map(|(_, snap)| snap.status)
    }

    /// Adds a seed's accounts and jobs, placed relative to the current sandbox time.
    pub fn add_seed(&self, seed: &Seed) -> Result<usize, SandboxError> {
        self.shared.add_seed(seed)
    }

    /// Stops accepting requests, lets in-flight ones finish, and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
