//! The job API behind the `JobControl` trait; only `aws.rs` and `client.rs` import the SDK.

pub mod aws;
pub mod client;
#[cfg(test)]
pub mod fake;
mod job_control;
pub mod target_clients;

pub use job_control::*;
