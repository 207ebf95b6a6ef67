//! `s3plan sandbox`: turns flags into a [`SandboxBuilder`], serves until SIGINT/SIGTERM, exits 0.
//!
//! Prints `listening on http://ADDR` as the first stdout line (scripts and tests wait for it). Owns no
//! sandbox behaviour (see `crate::sandbox`).

use std::io::Write as _;

use crate::cli::{CancelBeforeStartArg, SandboxArgs};
use crate::errors::{EXIT_INVALID, EXIT_OK};
use crate::sandbox::{
    CancelBeforeStart, Credentials, DEMO_SEED_YAML, Knobs, Operation, RepeatRequest, Sandbox,
    SandboxBuilder, SandboxError, Seed, Throttle, TransitionRules,
};

/// Runs `s3plan sandbox`.
pub fn run(args: &SandboxArgs) -> i32 {
    if args.print_seed_schema {
        print!("{}", Seed::json_schema());
        return EXIT_OK;
    }
    if args.print_demo_seed {
        print!("{DEMO_SEED_YAML}");
        return EXIT_OK;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: failed to start the async runtime: {err}");
            return EXIT_INVALID;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => EXIT_OK,
        Err(err) => {
            eprintln!("{:?}", miette::Report::new(SandboxDiagnostic(err)));
            EXIT_INVALID
        }
    }
}

/// Renders a [`SandboxError`] with its cause chain through miette.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("failed to start the sandbox")]
#[diagnostic(help("see `s3plan sandbox --help` and docs/sandbox.md"))]
struct SandboxDiagnostic(#[source] SandboxError);

fn builder(args: &SandboxArgs) -> Result<SandboxBuilder, SandboxError> {
    let seed = match &args.seed {
        Some(path) => Seed::from_file(path)?,
        None => Seed::demo(),
    };
    let mut knobs: Knobs = seed.knobs.clone().unwrap_or_default();
    if let Some(p) = args.fault_rate {
        knobs.fault_rate = p;
    }
    if let Some(p) = args.drop_rate {
        knobs.drop_rate = p;
    }
    if let Some(n) = args.random_seed {
        knobs.random_seed = n;
    }
    if let Some(latency) = &args.latency {
        let (base, jitter) = match latency.split_once(':') {
            Some((b, j)) => (b, Some(j)),
            None => (latency.as_str(), None),
        };
        let ms = |text: &str| {
            humantime::parse_duration(text)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .map_err(|e| SandboxError::InvalidKnob(format!("latency {text:?}: {e}")))
        };
        knobs.latency_ms = ms(base)?;
        knobs.latency_jitter_ms = jitter.map(ms).transpose()?.unwrap_or(0);
    }
    for spec in &args.throttle {
        let (op, rate) = spec.split_once('=').ok_or_else(|| {
            SandboxError::InvalidKnob(format!("--throttle {spec:?}: expected OP=RATE[:BURST]"))
        })?;
        let throttle = Throttle::parse(rate)?;
        if op.eq_ignore_ascii_case("all") || op == "*" {
            knobs.throttle_all = Some(throttle);
        } else {
            let op = Operation::parse(op).ok_or_else(|| {
                SandboxError::InvalidKnob(format!(
                    "--throttle: unknown operation {op:?}; expected all or one of {}",
                    Operation::ALL.map(Operation::as_str).join(", ")
                ))
            })?;
            knobs.throttle.insert(op, throttle);
        }
    }
    let mut rules: TransitionRules = seed.rules.unwrap_or_default();
    if let Some(choice) = args.cancel_before_start {
        rules.cancel_before_start = match choice {
            CancelBeforeStartArg::Cancelled => CancelBeforeStart::Cancelled,
            CancelBeforeStartArg::Cancelling => CancelBeforeStart::Cancelling,
        };
    }
    if args.accept_repeats {
        rules.repeat_request = RepeatRequest::Accept;
    }
    // One default for `s3plan sandbox` and `--sandbox`: the flag, else the seed's own, else 60.
    let speed = args
        .speed
        .or(seed.speed)
        .unwrap_or(crate::cli::SANDBOX_SPEED);
    let mut builder = Sandbox::builder()
        .seed(seed)
        .speed(speed)
        .knobs(knobs)
        .rules(rules)
        .bind(std::net::SocketAddr::new(args.bind, args.port).to_string());
    for spec in &args.credentials {
        builder = builder.credentials(Credentials::parse(spec)?);
    }
    if let Some(path) = &args.audit_log {
        builder = builder.audit_log(path.clone());
    }
    Ok(builder)
}

async fn serve(args: &SandboxArgs) -> Result<(), SandboxError> {
    if !args.bind.is_loopback() {
        tracing::warn!(
            "listening on {}: the job API and the unauthenticated admin API are reachable from other hosts",
            args.bind
        );
    }
    let handle = builder(args)?.start().await?;
    println!("listening on {}", handle.url());
    // Scripts read the first line through a pipe: make sure it leaves now.
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    tracing::info!("stopping the sandbox");
    handle.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!("cannot listen for SIGTERM ({err}); stop with Ctrl-C");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
