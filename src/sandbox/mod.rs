//! The sandbox: a local HTTP emulator of the S3 Control Batch Operations job API (`s3plan sandbox`, and
//! in-process for tests and benches). Imports nothing from `api/` or `plan/`: its wire types, status enum
//! and SigV4 verifier are its own, so a misreading of the protocol cannot hide in shared code.
//!
//! Start one with [`Sandbox::builder`]; see `docs/sandbox.md` for the seed format, knobs, admin API and
//! how the AWS CLI reaches it.

mod admin;
mod audit;
mod auth;
mod clock;
mod connection;
mod error;
mod knobs;
mod lifecycle;
mod operation;
mod router;
mod seed;
mod server;
mod state;
mod store;
mod sts;
mod wire;
mod xml;

pub use audit::AuditEntry;
pub use auth::Credentials;
pub use error::SandboxError;
pub use knobs::{FaultAction, Knobs, ScriptedFault, Throttle};
pub use lifecycle::{CancelBeforeStart, JobStatus, RepeatRequest, TransitionRules};
pub use operation::Operation;
pub use seed::{DEMO_ACCOUNT, DEMO_SEED_YAML, Seed, SeedAccount, SeedBatch, SeedJob};
pub use server::{Sandbox, SandboxBuilder, SandboxHandle};
