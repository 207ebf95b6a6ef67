//! Reading a journal back: its records, and what a resumed run must not redo.
//!
//! Owns parsing the JSON lines [`FileJournal`](crate::exec::journal::FileJournal) writes (a last line cut
//! short by a kill is ignored) and [`Resume`], the per-job verdict a resumed
//! run consults: an acknowledged success is not called again, an intent without an answer is read again
//! with DescribeJob before anything is sent. Does not own writing the journal (`journal.rs`) or rendering a
//! report from it (`commands/report.rs`).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::api::{JobId, JobStatus};
use crate::resolved::{ResolvedJob, ResolvedPlan};

/// One journal line, as read back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// Run metadata, written once at the start.
    Run(RunRecord),
    /// A job the run will act on, written at the start.
    Job(JobRecordLine),
    /// A mutating request about to be sent.
    Intent(IntentRecord),
    /// The answer to an intent.
    Ack(AckRecord),
    /// A job an earlier run changed (acknowledged), carried into this journal by `apply --resume`.
    Carried(CarriedRecord),
}

/// A `carried` record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CarriedRecord {
    /// The entry's name.
    pub entry: String,
    /// The job.
    pub job: String,
    /// The status UpdateJobStatus answered then.
    pub status: Option<String>,
    /// The request id of that answer.
    pub request_id: Option<String>,
    /// Mutating attempts made then.
    pub attempts: u32,
    /// The earlier run sent a request and recorded no answer: the job must be read before acting.
    #[serde(default)]
    pub uncertain: bool,
}

/// The `run` record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunRecord {
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// The plan file as given.
    pub plan: String,
    /// SHA-256 of the plan file's bytes.
    pub plan_sha256: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The custom endpoint, if any.
    pub endpoint: Option<String>,
    /// `apply` or `dry_run`.
    pub mode: String,
}

/// A `job` record: one job of one entry, as resolved.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobRecordLine {
    /// The entry's name.
    pub entry: String,
    /// The job.
    pub job: String,
    /// Its description.
    pub description: Option<String>,
    /// Its status when resolved.
    pub status_before: Option<String>,
    /// The status the entry asks for.
    pub target: Option<String>,
    /// The priority the entry asks for.
    pub priority: Option<i32>,
}

/// An `intent` record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IntentRecord {
    /// When it was recorded.
    pub at: String,
    /// The entry's name.
    pub entry: String,
    /// The job.
    pub job: String,
    /// The call.
    pub call: String,
    /// The requested status.
    pub target: Option<String>,
    /// The requested priority.
    pub priority: Option<i32>,
    /// The reason sent.
    pub reason: Option<String>,
    /// The attempt, from 1.
    pub attempt: u32,
}

/// An `ack` record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AckRecord {
    /// When it was recorded.
    pub at: String,
    /// The job.
    pub job: String,
    /// The call.
    pub call: String,
    /// The attempt answered.
    pub attempt: u32,
    /// The status answered, on success of UpdateJobStatus.
    pub status: Option<String>,
    /// The AWS error code, on failure.
    pub error_code: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
}

impl AckRecord {
    /// Whether the call succeeded.
    pub fn is_success(&self) -> bool {
        self.error_code.is_none()
    }
}

/// Reading a journal failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("failed to read the journal {path}")]
    Io {
        /// The journal.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line other than the last is not a journal record.
    #[error("{path}:{line}: not a journal record: {message}")]
    Corrupt {
        /// The journal.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        message: String,
    },
}

/// Reads every record of the journal at `path`. A last line that does not parse (cut short by a kill) is
/// dropped; a bad line elsewhere is an error.
pub fn read(path: &Path) -> Result<Vec<Record>, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text).map_err(|(line, message)| ReadError::Corrupt {
        path: path.display().to_string(),
        line,
        message,
    })
}

/// Parses journal text; `Err((line, message))` for a bad line that is not the last.
pub fn parse(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(record) => records.push(record),
            Err(_) if i + 1 == lines.len() => {}
            Err(error) => return Err((i + 1, error.to_string())),
        }
    }
    Ok(records)
}

/// What an earlier run left for one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// Every mutating call sent for the job was answered with success: do not call again.
    Done {
        /// The entry that acted.
        entry: String,
        /// The status UpdateJobStatus answered, if it was called.
        status: Option<JobStatus>,
        /// The last request id.
        request_id: Option<String>,
        /// Mutating attempts made.
        attempts: u32,
    },
    /// A request was sent (or about to be) and no answer was recorded: read the job before acting.
    Uncertain {
        /// The entry that acted.
        entry: String,
    },
}

impl Prior {
    fn entry(&self) -> &str {
        match self {
            Prior::Done { entry, .. } | Prior::Uncertain { entry } => entry,
        }
    }
}

/// The per-job verdicts of an earlier run's journal.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    jobs: HashMap<JobId, Prior>,
    /// The earlier run's `run` record (absent in journals written before it existed, or cut before it).
    pub run: Option<RunRecord>,
}

#[derive(Default)]
struct Calls {
    entry: String,
    intents: HashMap<String, u32>,
    last_ack: HashMap<String, AckRecord>,
    acks: HashMap<String, u32>,
}

impl Resume {
    /// Builds the verdicts from a journal's records.
    pub fn from_records(records: &[Record]) -> Self {
        let mut calls: HashMap<String, Calls> = HashMap::new();
        let mut order = Vec::new();
        let mut run = None;
        let mut carried: Vec<&CarriedRecord> = Vec::new();
        for record in records {
            match record {
                Record::Intent(intent) => {
                    let job = calls.entry(intent.job.clone()).or_insert_with(|| {
                        order.push(intent.job.clone());
                        Calls::default()
                    });
                    job.entry.clone_from(&intent.entry);
                    *job.intents.entry(intent.call.clone()).or_default() += 1;
                }
                Record::Ack(ack) => {
                    if let Some(job) = calls.get_mut(&ack.job) {
                        *job.acks.entry(ack.call.clone()).or_default() += 1;
                        job.last_ack.insert(ack.call.clone(), ack.clone());
                    }
                }
                Record::Run(record) => run = Some(record.clone()),
                Record::Carried(record) => carried.push(record),
                Record::Job(_) => {}
            }
        }
        let mut jobs = HashMap::new();
        for record in carried {
            if calls.contains_key(&record.job) {
                continue;
            }
            if let Ok(id) = JobId::parse(&record.job) {
                let prior = if record.uncertain {
                    Prior::Uncertain {
                        entry: record.entry.clone(),
                    }
                } else {
                    Prior::Done {
                        entry: record.entry.clone(),
                        status: record.status.as_deref().and_then(|s| s.parse().ok()),
                        request_id: record.request_id.clone(),
                        attempts: record.attempts,
                    }
                };
                jobs.insert(id, prior);
            }
        }
        for id in order {
            let (Some(job), Ok(job_id)) = (calls.get(&id), JobId::parse(&id)) else {
                continue;
            };
            let unanswered = job
                .intents
                .iter()
                .any(|(call, n)| job.acks.get(call).copied().unwrap_or(0) < *n);
            let all_succeeded = job
                .intents
                .keys()
                .all(|call| job.last_ack.get(call).is_some_and(AckRecord::is_success));
            let prior = if unanswered {
                Prior::Uncertain {
                    entry: job.entry.clone(),
                }
            } else if all_succeeded {
                let status_ack = job.last_ack.get("UpdateJobStatus");
                Prior::Done {
                    entry: job.entry.clone(),
                    status: status_ack
                        .and_then(|a| a.status.as_deref())
                        .and_then(|s| s.parse().ok()),
                    request_id: status_ack
                        .or_else(|| job.last_ack.values().next())
                        .and_then(|a| a.request_id.clone()),
                    attempts: job.intents.values().sum(),
                }
            } else {
                // The last answer was an error: the new run judges the job afresh.
                continue;
            };
            jobs.insert(job_id, prior);
        }
        Self { jobs, run }
    }

    /// What the earlier run left for `job`.
    pub fn get(&self, job: &JobId) -> Option<&Prior> {
        self.jobs.get(job)
    }

    /// Jobs with a verdict.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether no job has a verdict.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Adds to their entries the jobs the earlier run acted on that resolution no longer selects (a
    /// cancelled job no longer matches `status: [Suspended]`), so they appear in the new report.
    pub fn extend_plan(&self, plan: &mut ResolvedPlan) {
        let mut ids: Vec<(&JobId, &Prior)> = self.jobs.iter().collect();
        ids.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        for (id, prior) in ids {
            let Some(entry) = plan.entries.iter_mut().find(|e| e.name == prior.entry()) else {
                continue;
            };
            if entry.jobs.iter().any(|j| &j.id == id) {
                continue;
            }
            let status_seen = match prior {
                Prior::Done {
                    status: Some(status),
                    ..
                } => *status,
                // Unknown until DescribeJob reads it; Suspended is only a placeholder judged after the read.
                _ => JobStatus::Suspended,
            };
            entry.jobs.push(ResolvedJob {
                id: id.clone(),
                description: None,
                status_seen,
                priority_seen: entry.priority().unwrap_or_default(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOURNAL: &str = r#"{"record":"intent","at":"t","entry":"e","job":"job-1","call":"UpdateJobStatus","target":"Cancelled","priority":null,"reason":null,"attempt":1}
{"record":"ack","at":"t","job":"job-1","call":"UpdateJobStatus","attempt":1,"status":null,"error_code":"InternalServiceException","request_id":"R1"}
{"record":"intent","at":"t","entry":"e","job":"job-1","call":"UpdateJobStatus","target":"Cancelled","priority":null,"reason":null,"attempt":2}
{"record":"ack","at":"t","job":"job-1","call":"UpdateJobStatus","attempt":2,"status":"Cancelled","error_code":null,"request_id":"R2"}
{"record":"intent","at":"t","entry":"e","job":"job-2","call":"UpdateJobStatus","target":"Cancelled","priority":null,"reason":null,"attempt":1}
{"record":"intent","at":"t","entry":"e","job":"job-3","call":"UpdateJobStatus","target":"Cancelled","priority":null,"reason":null,"attempt":1}
{"record":"ack","at":"t","job":"job-3","call":"UpdateJobStatus","attempt":1,"status":null,"error_code":"AccessDenied","request_id":"R3"}
{"record":"intent","at":"t","entry":"e","job":"job-4","ca"#;

    #[test]
    fn acknowledged_successes_are_done_and_unanswered_intents_uncertain() {
        let records = parse(JOURNAL).unwrap();
        assert_eq!(records.len(), 7, "the cut-short last line is dropped");
        let resume = Resume::from_records(&records);
        let id = |s: &str| JobId::parse(s).unwrap();
        assert_eq!(
            resume.get(&id("job-1")),
            Some(&Prior::Done {
                entry: "e".to_owned(),
                status: Some(JobStatus::Cancelled),
                request_id: Some("R2".to_owned()),
                attempts: 2,
            })
        );
        assert_eq!(
            resume.get(&id("job-2")),
            Some(&Prior::Uncertain {
                entry: "e".to_owned()
            })
        );
        assert_eq!(resume.get(&id("job-3")), None, "a failed call is redone");
        assert_eq!(resume.len(), 2);
    }

    #[test]
    fn regression_an_unanswered_request_carried_forward_stays_uncertain() {
        // Killed twice: the second run never read job-2, so its journal carries the uncertainty on; a
        // third run resuming from it must still read job-2 before acting, and report it.
        let second_journal = r#"{"record":"carried","entry":"e","job":"job-1","status":"Cancelled","request_id":"R2","attempts":2}
{"record":"carried","entry":"e","job":"job-2","status":null,"request_id":null,"attempts":0,"uncertain":true}
"#;
        let resume = Resume::from_records(&parse(second_journal).unwrap());
        let id = |s: &str| JobId::parse(s).unwrap();
        assert_eq!(
            resume.get(&id("job-2")),
            Some(&Prior::Uncertain {
                entry: "e".to_owned()
            })
        );
        assert!(matches!(resume.get(&id("job-1")), Some(Prior::Done { .. })));
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
    fn a_bad_line_in_the_middle_is_an_error() {
        let text = "{\"record\":\"nope\"}\n{\"record\":\"intent\"}\n";
        assert_eq!(parse(text).unwrap_err().0, 1);
    }
}
