//! What a resumed run must not redo, read from an earlier run's journal.
//!
//! Owns [`Resume`], the per-action verdicts `apply --resume` consults, keyed by (entry, target, job, action)
//! and never by job alone (a job id is unique only within its account and region): an acknowledged success is not sent again, an intent without an answer makes the job
//! be read again with DescribeJob before anything is sent, and an action never sent runs. A job counts as
//! done by the earlier run only when every action of its entry was acknowledged. Does not own the file
//! format (`journal_line.rs`), writing the journal (`journal.rs`) or rendering a report from it
//! (`commands/report.rs`).

use std::collections::HashMap;

use crate::api::{JobId, JobStatus};
use crate::exec::journal_line::{AckLine, Line, RunLine};
use crate::resolved::{Action, ResolvedJob, ResolvedPlan};

pub(crate) use crate::exec::journal_line::read;

/// What an earlier run left for one action of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// Every attempt sent was answered and the last answer was a success: do not send again.
    Done {
        /// The status UpdateJobStatus answered, for a status action.
        status: Option<JobStatus>,
        /// The request id of the last answer.
        request_id: Option<String>,
        /// Attempts made.
        attempts: u32,
    },
    /// A request was sent (or about to be) and no answer was recorded: read the job before acting.
    Uncertain,
}

/// One action of one job (in its target, by name) of one entry.
type Key = (String, Option<String>, JobId, Action);

/// The per-action verdicts of an earlier run's journal.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    actions: HashMap<Key, Prior>,
    /// The earlier run's `run` line (absent when the journal was cut before it).
    pub run: Option<RunLine>,
}

#[derive(Default)]
struct Calls {
    intents: u32,
    acks: u32,
    last_ack: Option<AckLine>,
}

impl Resume {
    /// Builds the verdicts from a journal's lines.
    pub fn from_records(records: &[Line]) -> Self {
        let mut calls: HashMap<Key, Calls> = HashMap::new();
        let mut run = None;
        let mut carried = Vec::new();
        for record in records {
            match record {
                Line::Intent(intent) => {
                    let key = (
                        intent.entry.clone(),
                        intent.target.clone(),
                        intent.job.clone(),
                        intent.action,
                    );
                    calls.entry(key).or_default().intents += 1;
                }
                Line::Ack(ack) => {
                    let key = (
                        ack.entry.clone(),
                        ack.target.clone(),
                        ack.job.clone(),
                        ack.action,
                    );
                    if let Some(call) = calls.get_mut(&key) {
                        call.acks += 1;
                        call.last_ack = Some(ack.clone());
                    }
                }
                Line::Run(record) => run = Some(record.clone()),
                Line::Carried(record) => carried.push(record),
                Line::Job(_) => {}
            }
        }
        let mut actions = HashMap::new();
        for record in carried {
            let key = (
                record.entry.clone(),
                record.target.clone(),
                record.job.clone(),
                record.action,
            );
            if calls.contains_key(&key) {
                continue;
            }
            let prior = if record.uncertain {
                Prior::Uncertain
            } else {
                Prior::Done {
                    status: record.status,
                    request_id: record.request_id.clone(),
                    attempts: record.attempts,
                }
            };
            actions.insert(key, prior);
        }
        for (key, call) in calls {
            let prior = match &call.last_ack {
                _ if call.acks < call.intents => Prior::Uncertain,
                Some(ack) if ack.is_success() => Prior::Done {
                    status: ack.status,
                    request_id: ack.request_id.clone(),
                    attempts: call.intents,
                },
                // The last answer was an error: the new run judges the action afresh.
                _ => continue,
            };
            actions.insert(key, prior);
        }
        Self { actions, run }
    }

    /// What the earlier run left for `action` of `job` (in the target named `target`) in `entry`.
    pub fn get(
        &self,
        entry: &str,
        target: Option<&str>,
        job: &JobId,
        action: Action,
    ) -> Option<&Prior> {
        // Most runs resume nothing: skip building the key.
        if self.actions.is_empty() {
            return None;
        }
        self.actions.get(&(
            entry.to_owned(),
            target.map(str::to_owned),
            job.clone(),
            action,
        ))
    }

    /// Jobs (per entry) the earlier run acted on.
    pub fn len(&self) -> usize {
        self.jobs().len()
    }

    /// The (entry, target, job) triples the earlier run acted on, sorted.
    fn jobs(&self) -> Vec<(&str, Option<&str>, &JobId)> {
        let mut jobs: Vec<(&str, Option<&str>, &JobId)> = self
            .actions
            .keys()
            .map(|(entry, target, job, _)| (entry.as_str(), target.as_deref(), job))
            .collect();
        jobs.sort();
        jobs.dedup();
        jobs
    }

    /// Whether the earlier run acted on nothing.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Adds to their entries the jobs the earlier run acted on that resolution no longer selects (a
    /// cancelled job no longer matches `status: [Suspended]`), so they appear in the new report and their
    /// remaining actions run, in the target the earlier run acted in. A job added here is read with
    /// DescribeJob before anything is sent unless the earlier run finished it, so the placeholder status and
    /// priority below are never judged. A job of a target this run does not have is left out (`apply`
    /// refuses such a journal before resolving).
    pub fn extend_plan(&self, plan: &mut ResolvedPlan) {
        for (entry_name, target_name, id) in self.jobs() {
            let Some(target) = plan
                .targets
                .iter()
                .position(|t| t.name.as_deref() == target_name)
            else {
                continue;
            };
            let Some(entry) = plan.entries.iter_mut().find(|e| e.name == entry_name) else {
                continue;
            };
            if entry
                .jobs
                .iter()
                .any(|j| &j.id == id && j.target() == target)
            {
                continue;
            }
            let answered = self
                .actions
                .iter()
                .find_map(|((e, t, j, _), prior)| match prior {
                    Prior::Done {
                        status: Some(status),
                        ..
                    } if e == entry_name && t.as_deref() == target_name && j == id => Some(*status),
                    _ => None,
                });
            let status_seen = answered.unwrap_or(JobStatus::Suspended);
            entry.jobs.push(ResolvedJob {
                target: crate::resolved::target_index(target),
                id: id.clone(),
                description: None,
                status_seen,
                priority_seen: entry.priority().unwrap_or_default(),
                progress_seen: Default::default(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TargetStatus;
    use crate::exec::journal_line::parse;

    const CANCEL: Action = Action::SetStatus(TargetStatus::Cancelled);

    const JOURNAL: &str = r#"{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}
{"record":"ack","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","attempt":1,"status":null,"error_code":"InternalServiceException","request_id":"R1"}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":2}
{"record":"ack","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","attempt":2,"status":"Cancelled","error_code":null,"request_id":"R2"}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-2","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-3","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}
{"record":"ack","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-3","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","attempt":1,"status":null,"error_code":"AccessDenied","request_id":"R3"}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-4","ca"#;

    #[test]
    fn acknowledged_successes_are_done_and_unanswered_intents_uncertain() {
        let records = parse(JOURNAL).unwrap();
        assert_eq!(records.len(), 7, "the cut-short last line is dropped");
        let resume = Resume::from_records(&records);
        let id = |s: &str| JobId::parse(s).unwrap();
        assert_eq!(
            resume.get("e", None, &id("job-1"), CANCEL),
            Some(&Prior::Done {
                status: Some(JobStatus::Cancelled),
                request_id: Some("R2".to_owned()),
                attempts: 2,
            })
        );
        assert_eq!(
            resume.get("e", None, &id("job-2"), CANCEL),
            Some(&Prior::Uncertain)
        );
        assert_eq!(
            resume.get("e", None, &id("job-3"), CANCEL),
            None,
            "a failed call is redone"
        );
        assert_eq!(
            resume.get("other", None, &id("job-1"), CANCEL),
            None,
            "keyed by entry too"
        );
        assert_eq!(resume.len(), 2);
    }

    #[test]
    fn regression_an_unanswered_request_carried_forward_stays_uncertain() {
        // Killed twice: the second run never read job-2, so its journal carries the uncertainty on; a
        // third run resuming from it must still read job-2 before acting, and report it.
        let second_journal = r#"{"record":"carried","entry":"e","job":"job-1","action":{"set_status":"Cancelled"},"status":"Cancelled","request_id":"R2","attempts":2,"uncertain":false}
{"record":"carried","entry":"e","job":"job-2","action":{"set_status":"Cancelled"},"status":null,"request_id":null,"attempts":0,"uncertain":true}
"#;
        let resume = Resume::from_records(&parse(second_journal).unwrap());
        let id = |s: &str| JobId::parse(s).unwrap();
        assert_eq!(
            resume.get("e", None, &id("job-2"), CANCEL),
            Some(&Prior::Uncertain)
        );
        assert!(matches!(
            resume.get("e", None, &id("job-1"), CANCEL),
            Some(Prior::Done { .. })
        ));
    }

    proptest::proptest! {
        /// Any text, and any cut or byte flip of a real journal, reads back without a panic; a journal cut
        /// anywhere keeps every complete line before the cut.
        #[test]
        fn any_journal_text_reads_back_without_panic(
            noise in ".{0,300}",
            cut in 0usize..2000,
            flip in (0usize..2000, proptest::prelude::any::<u8>()),
        ) {
            if let Ok(records) = parse(&noise) {
                let _ = Resume::from_records(&records);
            }
            let cut = cut % JOURNAL.len();
            let (head, _) = JOURNAL.split_at(JOURNAL.floor_char_boundary(cut));
            let complete = head.matches('\n').count();
            let records = parse(head).map_err(|e| proptest::test_runner::TestCaseError::fail(e.1))?;
            proptest::prop_assert!(records.len() >= complete);
            let _ = Resume::from_records(&records);
            let mut bytes = JOURNAL.as_bytes().to_vec();
            let at = flip.0 % bytes.len();
            bytes[at] = flip.1;
            if let Ok(records) = parse(&String::from_utf8_lossy(&bytes)) {
                let _ = Resume::from_records(&records);
            }
        }
    }

    #[test]
    fn regression_a_job_is_done_only_when_each_of_its_actions_was_acknowledged() {
        // Killed after the priority of job-1 was acknowledged and before its status was sent: the status
        // action has no verdict, so the resumed run sends it.
        let priority = Action::SetPriority(900);
        let ready = Action::SetStatus(TargetStatus::Ready);
        let journal = r#"{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-1","action":{"set_priority":900},"call":"UpdateJobPriority","reason":null,"attempt":1}
{"record":"ack","at":"2026-11-29T10:00:01Z","entry":"e","job":"job-1","action":{"set_priority":900},"call":"UpdateJobPriority","attempt":1,"status":null,"error_code":null,"request_id":"R1"}
"#;
        let resume = Resume::from_records(&parse(journal).unwrap());
        let id = JobId::parse("job-1").unwrap();
        assert!(matches!(
            resume.get("e", None, &id, priority),
            Some(Prior::Done { .. })
        ));
        assert_eq!(resume.get("e", None, &id, ready), None);
    }

    #[test]
    fn one_job_id_in_two_targets_is_two_verdicts_and_extends_the_plan_in_its_own_target() {
        // The same id in two regions: only prod-eu's was acknowledged, prod-us's was sent without an answer.
        let journal = r#"{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","target":"prod-us","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","target":"prod-eu","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}
{"record":"ack","at":"2026-11-29T10:00:01Z","entry":"e","target":"prod-eu","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","attempt":1,"status":"Cancelled","error_code":null,"request_id":"R1"}
"#;
        let resume = Resume::from_records(&parse(journal).unwrap());
        let id = JobId::parse("job-1").unwrap();
        assert_eq!(
            resume.get("e", Some("prod-us"), &id, CANCEL),
            Some(&Prior::Uncertain)
        );
        assert!(matches!(
            resume.get("e", Some("prod-eu"), &id, CANCEL),
            Some(Prior::Done { .. })
        ));
        assert_eq!(resume.get("e", None, &id, CANCEL), None);
        assert_eq!(resume.len(), 2);

        let target = |name: &str, region: &str| crate::resolved::Target {
            name: Some(name.to_owned()),
            account_id: crate::api::AccountId::parse("111122223333").unwrap(),
            region: region.to_owned(),
            endpoint: None,
        };
        let mut plan = ResolvedPlan {
            // Listed in another order than the journal's: jobs are placed by name, not position.
            targets: vec![
                target("prod-eu", "eu-west-1"),
                target("prod-us", "us-east-1"),
            ],
            settings: crate::resolved::RunSettings {
                concurrency: 1,
                rate_limit: 1.0,
                poll_rate_limit: 1.0,
                poll_interval: std::time::Duration::from_secs(1),
                mode: crate::resolved::RunMode::Apply,
            },
            entries: vec![crate::resolved::ResolvedEntry {
                name: "e".to_owned(),
                after: Vec::new(),
                jobs: Vec::new(),
                gate: None,
                actions: vec![CANCEL],
                reason: None,
            }],
        };
        resume.extend_plan(&mut plan);
        let placed: Vec<(usize, &str, JobStatus)> = plan.entries[0]
            .jobs
            .iter()
            .map(|j| (j.target(), j.id.as_str(), j.status_seen))
            .collect();
        assert_eq!(
            placed,
            [
                (0, "job-1", JobStatus::Cancelled),
                (1, "job-1", JobStatus::Suspended)
            ]
        );
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error() {
        let text = "{\"record\":\"nope\"}\n{\"record\":\"intent\"}\n";
        assert_eq!(parse(text).unwrap_err().0, 1);
    }
}
