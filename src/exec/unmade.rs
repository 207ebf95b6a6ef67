//! Gates a dry run cannot see open: a gate whose watched job another entry of the same plan would change.
//! A dry run makes no change, so such a gate would be waited on until its timeout; it is named up front
//! and its jobs end `would_apply` without waiting.

use std::collections::HashMap;

use crate::api::JobId;
use crate::decision::{ActionJudgment, JobView, Verdict, decide};
use crate::exec::{GateCheck, check_gate};
use crate::resolved::{Action, Gate, GateSubject, ResolvedJob, ResolvedPlan};

/// One gated job whose watched job is changed by another entry of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmadeGate {
    /// The gated entry (index into the plan).
    pub entry: usize,
    /// The gated job.
    pub job: JobId,
    /// The job its gate watches.
    pub watched: JobId,
    /// The entry that would change the watched job (index into the plan).
    pub changed_by: usize,
}

impl UnmadeGate {
    /// The reason a dry run gives for not waiting.
    pub fn reason(&self, plan: &ResolvedPlan) -> String {
        format!(
            "gate on job {} depends on entry `{}`, which a dry run does not change",
            self.watched, plan.entries[self.changed_by].name
        )
    }
}

/// Every gated job whose watched job (its own status, or the gate's `job:`) another entry would send a
/// status request for:
/// those gates cannot open without a change the dry run will not make. Pure: judged from the statuses
/// the plan was resolved with, by the one decision every other part asks.
pub fn unmade_gates(plan: &ResolvedPlan) -> Vec<UnmadeGate> {
    // The jobs some gate watches, then every entry naming one of them, so each gated job costs one look-up
    // rather than a scan of the whole plan. Only watched jobs are indexed: a plan of a million jobs without
    // gates builds nothing. Keyed by target as well: the same id in another account or region is another job.
    let mut by_id: HashMap<(usize, &JobId), Vec<(usize, &ResolvedJob)>> = HashMap::new();
    for entry in &plan.entries {
        match &entry.gate {
            None => {}
            Some(Gate {
                subject: GateSubject::OtherJob { target, job },
                ..
            }) => {
                by_id.entry((*target, job)).or_default();
            }
            Some(_) => {
                for job in &entry.jobs {
                    by_id.entry((job.target(), &job.id)).or_default();
                }
            }
        }
    }
    if by_id.is_empty() {
        return Vec::new();
    }
    for (index, entry) in plan.entries.iter().enumerate() {
        for job in &entry.jobs {
            if let Some(naming) = by_id.get_mut(&(job.target(), &job.id)) {
                naming.push((index, job));
            }
        }
    }
    let mut found = Vec::new();
    for (index, entry) in plan.entries.iter().enumerate() {
        let Some(gate) = &entry.gate else {
            continue;
        };
        for job in &entry.jobs {
            let (site, watched) = match &gate.subject {
                GateSubject::OwnStatus => (job.target(), &job.id),
                GateSubject::OtherJob { target, job } => (*target, job),
            };
            let named = by_id.get(&(site, watched)).map_or(&[][..], Vec::as_slice);
            if let Some(changed_by) = changer(plan, index, named, gate) {
                found.push(UnmadeGate {
                    entry: index,
                    job: job.id.clone(),
                    watched: watched.clone(),
                    changed_by,
                });
            }
        }
    }
    found
}

/// The first entry other than `except` among those naming the watched job (`named`) that would change it,
/// when `gate` does not already hold for the status it was resolved with (a gate that holds now is passed
/// without waiting).
fn changer(
    plan: &ResolvedPlan,
    except: usize,
    named: &[(usize, &ResolvedJob)],
    gate: &Gate,
) -> Option<usize> {
    named.iter().find_map(|&(index, job)| {
        if index == except {
            return None;
        }
        let entry = &plan.entries[index];
        let holds = check_gate(
            &gate.statuses,
            gate.tasks.as_ref(),
            job.status_seen,
            job.progress_seen(),
        ) == GateCheck::Holds;
        if holds {
            return None;
        }
        let view = JobView {
            status: job.status_seen,
            priority: job.priority_seen,
        };
        // Only a status request moves the watched job toward (or away from) a status gate; a priority
        // change leaves the gate to the job's own progress, which a dry run can wait for.
        let decided = decide(&entry.actions, None, view);
        let moves_status = decided.actions.iter().any(|(action, judgment)| {
            matches!(action, Action::SetStatus(_)) && matches!(judgment, ActionJudgment::Call)
        });
        (decided.verdict == Verdict::Change && moves_status).then_some(index)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::api::{AccountId, JobStatus, TargetStatus};
    use crate::resolved::{ResolvedEntry, ResolvedJob, RunMode, RunSettings, Target};

    fn id(text: &str) -> JobId {
        JobId::parse(text).unwrap()
    }

    fn job(name: &str, status: JobStatus) -> ResolvedJob {
        ResolvedJob {
            target: 0,
            id: id(name),
            description: None,
            status_seen: status,
            priority_seen: 10,
            progress_seen: Default::default(),
        }
    }

    fn entry(
        name: &str,
        jobs: Vec<ResolvedJob>,
        target: TargetStatus,
        gate: Option<(GateSubject, JobStatus)>,
    ) -> ResolvedEntry {
        ResolvedEntry {
            name: name.to_owned(),
            after: Vec::new(),
            jobs,
            gate: gate.map(|(subject, status)| Gate {
                subject,
                statuses: vec![status],
                timeout: Duration::from_secs(60),
                tasks: None,
            }),
            actions: Action::from_parts(Some(target), None),
            reason: None,
        }
    }

    fn plan(entries: Vec<ResolvedEntry>) -> ResolvedPlan {
        ResolvedPlan {
            targets: vec![Target {
                name: None,
                account_id: AccountId::parse("111122223333").unwrap(),
                region: "us-east-1".to_owned(),
                endpoint: None,
            }],
            settings: RunSettings {
                concurrency: 4,
                rate_limit: 10.0,
                poll_rate_limit: 10.0,
                poll_interval: Duration::from_secs(5),
                mode: RunMode::DryRun,
            },
            entries,
        }
    }

    fn confirm_a(status: JobStatus) -> ResolvedEntry {
        entry(
            "confirm-a",
            vec![job("job-a", status)],
            TargetStatus::Ready,
            None,
        )
    }

    #[test]
    fn a_gate_on_a_job_another_entry_changes_is_unmade() {
        let plan = plan(vec![
            confirm_a(JobStatus::Suspended),
            entry(
                "cancel-b",
                vec![job("job-b", JobStatus::Suspended)],
                TargetStatus::Cancelled,
                Some((
                    GateSubject::OtherJob {
                        target: 0,
                        job: id("job-a"),
                    },
                    JobStatus::Active,
                )),
            ),
        ]);
        let unmade = unmade_gates(&plan);
        assert_eq!(
            unmade,
            [UnmadeGate {
                entry: 1,
                job: id("job-b"),
                watched: id("job-a"),
                changed_by: 0,
            }]
        );
        assert_eq!(
            unmade[0].reason(&plan),
            "gate on job job-a depends on entry `confirm-a`, which a dry run does not change"
        );
    }

    #[test]
    fn an_own_status_gate_on_a_job_another_entry_changes_is_unmade() {
        let plan = plan(vec![
            confirm_a(JobStatus::Suspended),
            entry(
                "cancel-a-when-active",
                vec![job("job-a", JobStatus::Suspended)],
                TargetStatus::Cancelled,
                Some((GateSubject::OwnStatus, JobStatus::Active)),
            ),
        ]);
        let unmade = unmade_gates(&plan);
        assert_eq!(unmade.len(), 1, "{unmade:?}");
        assert_eq!(unmade[0].changed_by, 0);
    }

    #[test]
    fn a_gate_is_waited_for_when_no_entry_changes_its_job_or_it_holds_already() {
        // Nobody changes job-a: already Ready, so confirming it is no change.
        let untouched = plan(vec![
            confirm_a(JobStatus::Ready),
            entry(
                "cancel-b",
                vec![job("job-b", JobStatus::Suspended)],
                TargetStatus::Cancelled,
                Some((
                    GateSubject::OtherJob {
                        target: 0,
                        job: id("job-a"),
                    },
                    JobStatus::Active,
                )),
            ),
        ]);
        assert!(unmade_gates(&untouched).is_empty());
        // The gate holds now, whatever another entry will do to the job later.
        let holds = plan(vec![
            entry(
                "cancel-a",
                vec![job("job-a", JobStatus::Active)],
                TargetStatus::Cancelled,
                None,
            ),
            entry(
                "cancel-b",
                vec![job("job-b", JobStatus::Suspended)],
                TargetStatus::Cancelled,
                Some((
                    GateSubject::OtherJob {
                        target: 0,
                        job: id("job-a"),
                    },
                    JobStatus::Active,
                )),
            ),
        ]);
        assert!(unmade_gates(&holds).is_empty());
        // A gate on a job outside the plan is the world's to change: waited for.
        let outside = plan(vec![entry(
            "cancel-b",
            vec![job("job-b", JobStatus::Suspended)],
            TargetStatus::Cancelled,
            Some((
                GateSubject::OtherJob {
                    target: 0,
                    job: id("job-z"),
                },
                JobStatus::Active,
            )),
        )]);
        assert!(unmade_gates(&outside).is_empty());
        // Another entry only raises job-a's priority: its status is its own to move.
        let mut bump = confirm_a(JobStatus::Active);
        bump.actions = Action::from_parts(None, Some(50));
        let priority_only = plan(vec![
            bump,
            entry(
                "cancel-b",
                vec![job("job-b", JobStatus::Suspended)],
                TargetStatus::Cancelled,
                Some((
                    GateSubject::OtherJob {
                        target: 0,
                        job: id("job-a"),
                    },
                    JobStatus::Complete,
                )),
            ),
        ]);
        assert!(unmade_gates(&priority_only).is_empty());
    }
}
