//! The one decision about a job: does its gate matter, what does each action need, and what is the verdict.
//!
//! Owns [`decide`], a pure function of an entry's actions, its gate's state and the job's freshest status and
//! priority. The executor (before and after the gate, and after a refusal is read again), `s3plan plan`'s
//! forecast, saved plans (through the forecast) and `apply --resume` (through the executor) all ask it;
//! nothing else judges a job, so a plan and the apply after it cannot disagree about a job in the same state.
//! The lifecycle rules it applies per action (`judge_target`, `judge_priority`, `check_gate`) live in
//! `exec/outcome.rs`. Does not make calls, wait or keep state.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::api::JobStatus;
use crate::exec::{GateCheck, Judgment, PriorityJudgment, can_reach, judge_priority, judge_target};
use crate::resolved::Action;

/// What one action needs, judged from a job's status and priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionJudgment {
    /// Send the action's call.
    Call,
    /// Nothing to send: the job already is where the action would put it; the text says why.
    AlreadyDone(String),
    /// Nothing to send: the job's state makes the action pointless (cancel a finished job); the text says why.
    Moot(String),
    /// The call cannot succeed in this status and the job is not past it either; the text says why.
    Refused(String),
}

impl ActionJudgment {
    /// The judgment without its text, as saved plans compare it.
    pub fn kind(&self) -> JudgmentKind {
        match self {
            ActionJudgment::Call => JudgmentKind::Call,
            ActionJudgment::AlreadyDone(_) => JudgmentKind::AlreadyDone,
            ActionJudgment::Moot(_) => JudgmentKind::Moot,
            ActionJudgment::Refused(_) => JudgmentKind::Refused,
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            ActionJudgment::Call => None,
            ActionJudgment::AlreadyDone(why)
            | ActionJudgment::Moot(why)
            | ActionJudgment::Refused(why) => Some(why),
        }
    }
}

/// The class of an [`ActionJudgment`], with a stable name on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgmentKind {
    /// The call would be sent.
    Call,
    /// Already done; no call.
    AlreadyDone,
    /// Moot; no call.
    Moot,
    /// The call cannot succeed now.
    Refused,
}

/// What `apply` would do to one job, all actions and the gate together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Apply can never succeed for this job; the reason says why.
    Impossible,
    /// The job waits for a gate that does not hold yet (but may).
    Waiting,
    /// At least one mutating call would be made.
    Change,
    /// An action is moot; no call.
    Skipped,
    /// Every action is already done; no call.
    Unchanged,
    /// A checkpoint (a gate and no action) whose gate holds; nothing to send.
    Met,
}

impl Verdict {
    /// Every verdict, most urgent first (the display order).
    pub const ALL: [Verdict; 6] = [
        Verdict::Impossible,
        Verdict::Waiting,
        Verdict::Change,
        Verdict::Skipped,
        Verdict::Unchanged,
        Verdict::Met,
    ];

    /// The label used in human output.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Impossible => "impossible",
            Verdict::Waiting => "waiting",
            Verdict::Change => "will change",
            Verdict::Skipped => "skipped",
            Verdict::Unchanged => "already done",
            Verdict::Met => "gate met",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A job as the decision sees it: the freshest status and priority known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobView {
    /// The job's status.
    pub status: JobStatus,
    /// The job's priority.
    pub priority: i32,
}

/// An entry's gate as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct GateView<'a> {
    /// Whether the gate watches the job's own status (else another job's).
    pub own: bool,
    /// The statuses the gate waits for.
    pub wanted: &'a [JobStatus],
    /// The gate's state now.
    pub check: &'a GateCheck,
}

/// Everything decided about one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the job must pass its gate before anything is sent. A job whose every action is already
    /// done needs no gate: a rerun of a runbook converges instead of failing on a gate such as
    /// `wait_for: Suspended` that the job moved past because of the earlier run.
    pub gate_needed: bool,
    /// The status the actions were judged from: the job's status, or for a job still waiting on its own
    /// gate the first wanted status it can reach (what it will be judged from once the gate holds).
    pub judged_from: JobStatus,
    /// Each action with its judgment, in the order they are sent.
    pub actions: Vec<(Action, ActionJudgment)>,
    /// The combined verdict.
    pub verdict: Verdict,
    /// Why the verdict is not `Change` or `Waiting`, in words.
    pub reason: Option<String>,
}

impl Decision {
    /// The actions whose call would be sent (only meaningful when the verdict is `Change`).
    pub fn calls(&self) -> impl Iterator<Item = Action> + '_ {
        self.actions
            .iter()
            .filter(|(_, j)| *j == ActionJudgment::Call)
            .map(|(a, _)| *a)
    }
}

/// Judges one action against a job.
pub fn judge_action(action: Action, job: JobView) -> ActionJudgment {
    match action {
        Action::SetStatus(target) => match judge_target(target, job.status) {
            Judgment::Call => ActionJudgment::Call,
            Judgment::Unchanged(why) => ActionJudgment::AlreadyDone(why),
            Judgment::Skipped(why) => ActionJudgment::Moot(why),
            Judgment::Refused(why) => ActionJudgment::Refused(why),
        },
        Action::SetPriority(priority) => match judge_priority(priority, job.priority, job.status) {
            PriorityJudgment::Call { .. } => ActionJudgment::Call,
            PriorityJudgment::Unchanged(why) => ActionJudgment::AlreadyDone(why),
        },
    }
}

/// Decides what happens to a job with `actions`, behind `gate` (if the entry has one), seen as `job`.
///
/// The verdict, most urgent first: `Impossible` when a needed gate can never hold; `Waiting` while a
/// needed gate is pending; `Met` for a checkpoint (no action) whose gate holds; `Impossible` when an action
/// is refused; `Skipped` when an action is moot (nothing is sent); `Change` when a call would be sent; else
/// `Unchanged`.
pub fn decide(actions: &[Action], gate: Option<GateView<'_>>, job: JobView) -> Decision {
    let mut judged: Vec<(Action, ActionJudgment)> =
        actions.iter().map(|&a| (a, judge_action(a, job))).collect();
    let all_done = !judged.is_empty()
        && judged
            .iter()
            .all(|(_, j)| matches!(j, ActionJudgment::AlreadyDone(_)));
    let gate = gate.filter(|_| !all_done);
    let mut judged_from = job.status;
    if let Some(GateView {
        own: true,
        wanted,
        check: GateCheck::Pending,
    }) = gate
    {
        // A job waiting on its own status is judged from the status the gate waits for, as it will be
        // once the gate holds.
        if let Some(&then) = wanted.iter().find(|&&w| can_reach(job.status, w)) {
            judged_from = then;
            let then = JobView {
                status: then,
                ..job
            };
            for (action, judgment) in &mut judged {
                *judgment = judge_action(*action, then);
            }
        }
    }
    let (verdict, reason) = verdict(gate.map(|g| g.check), &judged);
    Decision {
        gate_needed: gate.is_some(),
        judged_from,
        actions: judged,
        verdict,
        reason,
    }
}

fn verdict(
    gate: Option<&GateCheck>,
    judged: &[(Action, ActionJudgment)],
) -> (Verdict, Option<String>) {
    let judgments = || judged.iter().map(|(_, j)| j);
    let first = |pick: fn(&ActionJudgment) -> bool| {
        judgments()
            .find(|j| pick(j))
            .and_then(|j| j.reason().map(str::to_owned))
    };
    if let Some(GateCheck::Unreachable(why)) = gate {
        return (Verdict::Impossible, Some(why.clone()));
    }
    // A refusal rests on a status the job can leave (`Preparing` becomes `Suspended`): while the gate is
    // pending the job is judged again once it holds, so only a refusal without a pending gate is final.
    if let Some(GateCheck::Pending) = gate {
        return (Verdict::Waiting, None);
    }
    // A checkpoint (validation gives every entry without an action a gate) has nothing to send: once its
    // gate holds, or once it is judged after the gate held, it is met.
    if judged.is_empty() {
        return (
            Verdict::Met,
            Some("gate met; a checkpoint sends nothing".to_owned()),
        );
    }
    if let Some(why) = first(|j| matches!(j, ActionJudgment::Refused(_))) {
        return (Verdict::Impossible, Some(why));
    }
    if let Some(why) = first(|j| matches!(j, ActionJudgment::Moot(_))) {
        return (Verdict::Skipped, Some(why));
    }
    if judgments().any(|j| *j == ActionJudgment::Call) {
        return (Verdict::Change, None);
    }
    let why: Vec<&str> = judgments().filter_map(ActionJudgment::reason).collect();
    let why = if why.is_empty() {
        "nothing to do".to_owned()
    } else {
        why.join("; ")
    };
    (Verdict::Unchanged, Some(why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TargetStatus;
    use JobStatus as S;

    fn view(status: JobStatus) -> JobView {
        JobView {
            status,
            priority: 10,
        }
    }

    #[test]
    fn a_job_already_at_its_target_needs_no_gate() {
        let pending = GateCheck::Pending;
        let unreachable = GateCheck::Unreachable("moved past it".to_owned());
        for (actions, status, check) in [
            (
                vec![Action::SetStatus(TargetStatus::Ready)],
                S::Active,
                &unreachable,
            ),
            (
                vec![Action::SetStatus(TargetStatus::Cancelled)],
                S::Cancelled,
                &pending,
            ),
            (
                vec![
                    Action::SetPriority(10),
                    Action::SetStatus(TargetStatus::Ready),
                ],
                S::Active,
                &unreachable,
            ),
        ] {
            let gate = GateView {
                own: true,
                wanted: &[S::Suspended],
                check,
            };
            let decided = decide(&actions, Some(gate), view(status));
            assert!(!decided.gate_needed, "{actions:?} on {status}");
            assert_eq!(
                decided.verdict,
                Verdict::Unchanged,
                "{actions:?} on {status}"
            );
        }
    }

    #[test]
    fn a_pending_own_gate_is_judged_from_the_status_it_waits_for() {
        let check = GateCheck::Pending;
        let gate = GateView {
            own: true,
            wanted: &[S::Suspended],
            check: &check,
        };
        let decided = decide(
            &[Action::SetStatus(TargetStatus::Ready)],
            Some(gate),
            view(S::Preparing),
        );
        assert!(decided.gate_needed);
        assert_eq!(decided.verdict, Verdict::Waiting);
        assert_eq!(decided.judged_from, S::Suspended);
        assert_eq!(decided.calls().count(), 1);
    }

    #[test]
    fn a_refusal_or_a_closed_gate_is_impossible_and_a_moot_action_skips_the_job() {
        let decided = decide(
            &[Action::SetStatus(TargetStatus::Ready)],
            None,
            view(S::Preparing),
        );
        assert_eq!(decided.verdict, Verdict::Impossible);
        let decided = decide(
            &[
                Action::SetPriority(50),
                Action::SetStatus(TargetStatus::Cancelled),
            ],
            None,
            view(S::Failing),
        );
        assert_eq!(decided.verdict, Verdict::Skipped);
        let closed = GateCheck::Unreachable("gone".to_owned());
        let gate = GateView {
            own: false,
            wanted: &[S::Complete],
            check: &closed,
        };
        let decided = decide(&[Action::SetPriority(50)], Some(gate), view(S::Active));
        assert_eq!(decided.verdict, Verdict::Impossible);
        assert_eq!(decided.reason.as_deref(), Some("gone"));
    }
}
