//! Per-job outcomes and the lifecycle judgments made before any call: is the target already reached, moot,
//! or worth a request; does a gate hold, may it still hold, or can it never hold again.
//!
//! Owns the job lifecycle's rules (which requests a status allows, which statuses follow which) as pure
//! functions, so they are tested as tables. Does not make calls or keep state (see `executor.rs`), nor
//! combine judgments into a decision (`decision.rs`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::api::{JobStatus, Progress, TargetStatus};
use crate::resolved::TaskLimit;

/// How one job ended. The report and the exit code are decided from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A mutating call succeeded.
    Applied,
    /// The job was already at or past the target; no call was made.
    Unchanged,
    /// The job's state made the target moot (asked `Cancelled`, already `Complete`); no call was made.
    Skipped,
    /// Dry run: a call would have been made.
    WouldApply,
    /// A checkpoint entry (a gate and no action): its gate held; nothing was sent.
    Met,
    /// A call failed, or the gate can never hold.
    Failed,
    /// The gate did not hold within its timeout.
    TimedOut,
    /// Never started: a dependency failed or the run was interrupted.
    NotRun,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 8] = [
        Outcome::Applied,
        Outcome::Unchanged,
        Outcome::Skipped,
        Outcome::WouldApply,
        Outcome::Met,
        Outcome::Failed,
        Outcome::TimedOut,
        Outcome::NotRun,
    ];

    /// Outcomes that keep the exit code at 0 and let `after:` entries start.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Outcome::Applied
                | Outcome::Unchanged
                | Outcome::Skipped
                | Outcome::WouldApply
                | Outcome::Met
        )
    }

    /// The report spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::WouldApply => "would_apply",
            Outcome::Met => "met",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::NotRun => "not_run",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do about a target, judged from a job's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgment {
    /// Send UpdateJobStatus.
    Call,
    /// Already at or past the target.
    Unchanged(String),
    /// The target is moot.
    Skipped(String),
    /// The request cannot succeed in this status and the job is not past it either.
    Refused(String),
}

/// Judges `target` against `status`: a call, already there, moot, or refused. Every status that ends a call-free judgment is absorbing
/// in the lifecycle, so judging from a status seen a while ago never skips a call that was needed.
pub fn judge_target(target: TargetStatus, status: JobStatus) -> Judgment {
    use JobStatus as S;
    match target {
        TargetStatus::Cancelled => match status {
            S::Cancelling | S::Cancelled => Judgment::Unchanged(format!("already {status}")),
            S::Complete | S::Completing | S::Failed | S::Failing => {
                Judgment::Skipped(format!("job is {status}; nothing left to cancel"))
            }
            S::New
            | S::Preparing
            | S::Suspended
            | S::Ready
            | S::Active
            | S::Pausing
            | S::Paused => Judgment::Call,
        },
        TargetStatus::Ready => match status {
            S::Suspended => Judgment::Call,
            S::Ready | S::Active | S::Pausing | S::Paused | S::Completing | S::Complete => {
                Judgment::Unchanged(format!("already {status}; confirmed before"))
            }
            S::Cancelling | S::Cancelled | S::Failing | S::Failed => {
                Judgment::Skipped(format!("job is {status}; it can no longer be confirmed"))
            }
            S::New | S::Preparing => Judgment::Refused(format!(
                "job is {status} and not yet waiting for confirmation; gate the entry on `Suspended`"
            )),
        },
    }
}

/// Whether an answer (UpdateJobStatus's `Status`, or a re-read after a conflict) means the target was reached.
pub fn reaches_target(target: TargetStatus, status: JobStatus) -> bool {
    matches!(judge_target(target, status), Judgment::Unchanged(_))
}

/// What to do about a priority, judged from a job's status and the priority seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriorityJudgment {
    /// Send UpdateJobPriority (`from -> to`).
    Call {
        /// The priority seen.
        from: i32,
        /// The priority asked for.
        to: i32,
    },
    /// Nothing to do; the reason says why.
    Unchanged(String),
}

/// Judges a wanted `priority` against a job in `status` whose priority was `seen`.
pub fn judge_priority(priority: i32, seen: i32, status: JobStatus) -> PriorityJudgment {
    if status.is_terminal() {
        PriorityJudgment::Unchanged(format!("job is {status}; priority no longer matters"))
    } else if priority == seen {
        PriorityJudgment::Unchanged(format!("priority already {priority}"))
    } else {
        PriorityJudgment::Call {
            from: seen,
            to: priority,
        }
    }
}

/// The state of a gate, judged from the watched job's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateCheck {
    /// The watched status is one of the wanted ones.
    Holds,
    /// Not yet, but it may still get there.
    Pending,
    /// It can never get there again; the reason says why.
    Unreachable(String),
}

/// Judges a gate wanting any of `wanted` (and, with `tasks`, at most so many failed tasks) against the
/// watched job's `status` and task counters.
///
/// The gate holds when the status is wanted and the task condition holds. A task condition that fails is
/// final once the job is terminal (its counters no longer move) or when the failed tasks already exceed
/// `max_failed` (they never decrease); a rate above its limit on a running job may still fall.
pub fn check_gate(
    wanted: &[JobStatus],
    tasks: Option<&TaskLimit>,
    status: JobStatus,
    progress: Progress,
) -> GateCheck {
    let breach = tasks.and_then(|limit| task_breach(limit, status, progress));
    if let Some(breach) = &breach
        && (status.is_terminal() || breach.for_good)
    {
        return GateCheck::Unreachable(breach.text.clone());
    }
    if wanted.contains(&status) {
        return if breach.is_some() {
            GateCheck::Pending
        } else {
            GateCheck::Holds
        };
    }
    if wanted.iter().any(|&w| can_reach(status, w)) {
        return GateCheck::Pending;
    }
    let names: Vec<&str> = wanted.iter().map(|s| s.as_str()).collect();
    GateCheck::Unreachable(format!(
        "job is {status} and can no longer become {}",
        names.join(" or ")
    ))
}

/// Joins the numbers of a task condition that does not hold to the condition.
const ABOVE: &str = ", above ";

/// Whether a job's reason says a gate's task condition failed (its watched job had too many failed tasks).
pub fn is_over_task_condition(reason: &str) -> bool {
    ["max_failed_tasks ", "max_failure_rate "]
        .iter()
        .any(|limit| reason.contains(&format!("{ABOVE}{limit}")))
}

/// A task condition that does not hold now.
struct Breach {
    /// The numbers, in words.
    text: String,
    /// Whether it can never hold again, whatever the job does next.
    for_good: bool,
}

fn task_breach(limit: &TaskLimit, status: JobStatus, progress: Progress) -> Option<Breach> {
    let failed = progress.failed_tasks.max(0);
    let finished = progress.succeeded_tasks.max(0) + failed;
    let seen = format!(
        "job {status} with {} of {} finished tasks failed ({})",
        grouped(failed),
        grouped(finished),
        percent(rate_bp(failed, finished))
    );
    if let Some(max) = limit.max_failed
        && failed > max
    {
        return Some(Breach {
            text: format!("{seen}{ABOVE}max_failed_tasks {}", grouped(max)),
            for_good: true,
        });
    }
    if let Some(max) = limit.max_rate_bp
        && finished > 0
        && u128::from(failed.unsigned_abs()) * 10_000
            > u128::from(finished.unsigned_abs()) * u128::from(max)
    {
        return Some(Breach {
            text: format!("{seen}{ABOVE}max_failure_rate {}", percent(max)),
            for_good: false,
        });
    }
    None
}

/// `failed / finished` in hundredths of a percent, rounded down (0 when nothing finished).
pub fn rate_bp(failed: i64, finished: i64) -> u32 {
    if finished <= 0 {
        return 0;
    }
    let bp = i128::from(failed) * 10_000 / i128::from(finished);
    u32::try_from(bp).unwrap_or(u32::MAX)
}

/// Hundredths of a percent as `2.1 %`, `1 %` or `0.25 %`.
pub fn percent(bp: u32) -> String {
    let whole = bp / 100;
    let cents = bp % 100;
    if cents == 0 {
        format!("{whole} %")
    } else if cents.is_multiple_of(10) {
        format!("{whole}.{} %", cents / 10)
    } else {
        format!("{whole}.{cents:02} %")
    }
}

/// A count with thousands separators (`20,000`).
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The lifecycle edges of an S3 Batch Operations job, automatic and user-caused.
fn successors(status: JobStatus) -> &'static [JobStatus] {
    use JobStatus as S;
    match status {
        S::New => &[S::Preparing, S::Cancelled, S::Failing],
        S::Preparing => &[S::Ready, S::Suspended, S::Cancelled, S::Failing],
        S::Suspended => &[S::Ready, S::Cancelled],
        S::Ready => &[S::Active, S::Cancelled, S::Cancelling, S::Failing],
        S::Active => &[
            S::Pausing,
            S::Completing,
            S::Complete,
            S::Cancelling,
            S::Failing,
        ],
        S::Pausing => &[S::Paused, S::Cancelling, S::Failing],
        S::Paused => &[S::Active, S::Cancelling, S::Failing],
        S::Completing => &[S::Complete],
        S::Cancelling => &[S::Cancelled],
        S::Failing => &[S::Failed],
        S::Complete | S::Cancelled | S::Failed => &[],
    }
}

/// Whether a job in `from` can later be in `to` (a search over the lifecycle edges).
pub fn can_reach(from: JobStatus, to: JobStatus) -> bool {
    let mut seen = [false; JobStatus::ALL.len()];
    let mut stack = vec![from];
    while let Some(status) = stack.pop() {
        if status == to {
            return true;
        }
        let index = status as usize;
        if seen[index] {
            continue;
        }
        seen[index] = true;
        stack.extend_from_slice(successors(status));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobStatus as S;

    #[test]
    fn cancel_targets_are_judged_by_lifecycle() {
        for (status, expected) in [
            (S::Suspended, "call"),
            (S::Active, "call"),
            (S::Paused, "call"),
            (S::Cancelling, "unchanged"),
            (S::Cancelled, "unchanged"),
            (S::Complete, "skipped"),
            (S::Failed, "skipped"),
            (S::Failing, "skipped"),
        ] {
            let got = match judge_target(TargetStatus::Cancelled, status) {
                Judgment::Call => "call",
                Judgment::Unchanged(_) => "unchanged",
                Judgment::Skipped(_) => "skipped",
                Judgment::Refused(_) => "refused",
            };
            assert_eq!(got, expected, "{status}");
        }
    }

    #[test]
    fn confirm_targets_are_judged_by_lifecycle() {
        for (status, expected) in [
            (S::Suspended, "call"),
            (S::Ready, "unchanged"),
            (S::Active, "unchanged"),
            (S::Paused, "unchanged"),
            (S::Complete, "unchanged"),
            (S::Cancelled, "skipped"),
            (S::Failed, "skipped"),
            (S::Preparing, "refused"),
        ] {
            let got = match judge_target(TargetStatus::Ready, status) {
                Judgment::Call => "call",
                Judgment::Unchanged(_) => "unchanged",
                Judgment::Skipped(_) => "skipped",
                Judgment::Refused(_) => "refused",
            };
            assert_eq!(got, expected, "{status}");
        }
    }

    #[test]
    fn answers_reaching_the_target_are_success() {
        assert!(reaches_target(TargetStatus::Cancelled, S::Cancelling));
        assert!(reaches_target(TargetStatus::Cancelled, S::Cancelled));
        assert!(!reaches_target(TargetStatus::Cancelled, S::Complete));
        assert!(reaches_target(TargetStatus::Ready, S::Active));
        assert!(!reaches_target(TargetStatus::Ready, S::Cancelled));
        assert!(!reaches_target(TargetStatus::Ready, S::Suspended));
    }

    #[test]
    fn priorities_are_judged_by_status_and_value() {
        assert_eq!(
            judge_priority(50, 10, S::Suspended),
            PriorityJudgment::Call { from: 10, to: 50 }
        );
        assert!(matches!(
            judge_priority(50, 50, S::Active),
            PriorityJudgment::Unchanged(_)
        ));
        assert!(matches!(
            judge_priority(50, 10, S::Complete),
            PriorityJudgment::Unchanged(_)
        ));
    }

    #[test]
    fn gates_hold_wait_or_become_unreachable() {
        for (wanted, status, expected) in [
            (vec![S::Suspended], S::Suspended, "holds"),
            (vec![S::Suspended], S::Preparing, "pending"),
            (vec![S::Suspended], S::Active, "unreachable"),
            (vec![S::Complete], S::Active, "pending"),
            (vec![S::Complete], S::Cancelled, "unreachable"),
            (vec![S::Active], S::Paused, "pending"),
            (vec![S::Complete, S::Failed], S::Failing, "pending"),
            (vec![S::Ready], S::Cancelling, "unreachable"),
        ] {
            let got = match check_gate(&wanted, None, status, Progress::default()) {
                GateCheck::Holds => "holds",
                GateCheck::Pending => "pending",
                GateCheck::Unreachable(_) => "unreachable",
            };
            assert_eq!(got, expected, "{wanted:?} from {status}");
        }
    }

    fn tasks(succeeded: i64, failed: i64) -> Progress {
        Progress {
            total_tasks: 20_000,
            succeeded_tasks: succeeded,
            failed_tasks: failed,
            elapsed_active_seconds: 0,
        }
    }

    #[test]
    fn a_task_condition_holds_waits_or_fails_with_the_numbers() {
        let rate = TaskLimit {
            max_failed: None,
            max_rate_bp: Some(100),
        };
        let count = TaskLimit {
            max_failed: Some(10),
            max_rate_bp: None,
        };
        let complete = [S::Complete];
        for (limit, status, progress, expected) in [
            (rate, S::Complete, tasks(19_800, 200), "holds"),
            (rate, S::Complete, tasks(19_588, 412), "unreachable"),
            // A running job above the rate may still fall under it.
            (rate, S::Active, tasks(50, 5), "pending"),
            (count, S::Active, tasks(50, 10), "pending"),
            // Failed tasks never decrease: above the count the gate is closed at once.
            (count, S::Active, tasks(50, 11), "unreachable"),
            (count, S::Complete, tasks(19_990, 10), "holds"),
            (rate, S::Complete, tasks(0, 0), "holds"),
        ] {
            let got = match check_gate(&complete, Some(&limit), status, progress) {
                GateCheck::Holds => "holds",
                GateCheck::Pending => "pending",
                GateCheck::Unreachable(_) => "unreachable",
            };
            assert_eq!(got, expected, "{limit:?} {status} {progress:?}");
        }
        let GateCheck::Unreachable(why) =
            check_gate(&complete, Some(&rate), S::Complete, tasks(19_588, 412))
        else {
            panic!("above the rate on a finished job is final");
        };
        assert_eq!(
            why,
            "job Complete with 412 of 20,000 finished tasks failed (2.06 %), above max_failure_rate 1 %"
        );
    }

    #[test]
    fn a_failed_task_condition_is_told_apart_from_other_gate_failures() {
        let limit = TaskLimit {
            max_failed: Some(10),
            max_rate_bp: None,
        };
        let progress = Progress {
            total_tasks: 100,
            succeeded_tasks: 50,
            failed_tasks: 11,
            elapsed_active_seconds: 0,
        };
        let GateCheck::Unreachable(over) = check_gate(
            &[JobStatus::Complete],
            Some(&limit),
            JobStatus::Active,
            progress,
        ) else {
            panic!("11 failed tasks are above 10 for good");
        };
        assert!(is_over_task_condition(&format!(
            "gate on job x can never hold: {over}"
        )));
        let GateCheck::Unreachable(other) =
            check_gate(&[JobStatus::Complete], None, JobStatus::Cancelled, progress)
        else {
            panic!("a cancelled job never completes");
        };
        assert!(!is_over_task_condition(&other), "{other}");
        assert!(!is_over_task_condition(
            "did not become Complete with max_failed_tasks 10 within 1s"
        ));
    }

    #[test]
    fn percents_and_counts_read_as_written() {
        assert_eq!(percent(100), "1 %");
        assert_eq!(percent(210), "2.1 %");
        assert_eq!(percent(25), "0.25 %");
        assert_eq!(grouped(20_000), "20,000");
        assert_eq!(grouped(412), "412");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
