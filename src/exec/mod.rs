//! The executor: runs a `ResolvedPlan` against a `JobControl` and reports every step as an event.

#[cfg(test)]
mod agreement;
mod coordinator;
pub mod emitter;
pub(crate) mod executor;
mod job_queue;
pub(crate) mod journal;
pub(crate) mod journal_line;
pub mod limiter;
mod mutation;
mod outcome;
pub mod poller;
pub(crate) mod resume;
pub mod retry;
mod scheduler;
pub(crate) mod site;
pub(crate) mod sweep;
pub mod unmade;

pub use coordinator::{RunOptions, RunSummary, run};
pub use outcome::{
    GateCheck, Judgment, Outcome, PriorityJudgment, can_reach, check_gate, grouped,
    is_over_task_condition, judge_priority, judge_target, percent, rate_bp, reaches_target,
};
