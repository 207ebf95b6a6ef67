//! The job API behind the `JobControl` trait; only `aws.rs` (added with the executor) imports the SDK.

mod job_control;

pub use job_control::*;
