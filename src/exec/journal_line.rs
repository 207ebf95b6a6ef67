//! The journal's file format: one [`Line`] type, written by `journal.rs` and read back by `resume.rs` and
//! `s3plan report`.
//!
//! Owns the JSON-lines schema (typed ids, calls, statuses, actions and timestamps; stable snake_case names)
//! and its format version, carried by the `run` line. Reading a journal is strict: a line that does not
//! parse is an error (unless it is the last one, which a kill can cut short), and so is a journal of a format
//! this s3plan does not know. Format 2 (one place per run: `account`, `region` and `endpoint` on the `run`
//! line, no `target` on the others) still reads, as a run in one unnamed target. Does not own writing (`journal.rs`) or what a resumed run makes of the lines (`resume.rs`).

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::api::{AccountId, ApiCall, JobId, JobStatus};
use crate::resolved::{Action, RunMode, Target};

/// The format version written in the `run` line. Format 1 (before actions) had no `format` field; format 2
/// (before targets) named one account, region and endpoint on the `run` line.
pub const FORMAT_VERSION: u32 = 3;

/// The formats this s3plan reads.
const READ_FORMATS: [u32; 2] = [2, FORMAT_VERSION];

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Line {
    /// Run metadata, written once at the start.
    Run(RunLine),
    /// A job the run will act on, written at the start.
    Job(JobLine),
    /// A mutating request about to be sent.
    Intent(IntentLine),
    /// The answer to an intent.
    Ack(AckLine),
    /// An action an earlier run acknowledged (or sent without a recorded answer), carried into this journal
    /// by `apply --resume` so that the last journal alone is a complete record.
    Carried(CarriedLine),
}

/// The `run` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredRunLine")]
pub struct RunLine {
    /// The journal format ([`FORMAT_VERSION`], or 2 for a journal written before targets).
    pub format: u32,
    /// When the run started.
    pub started_at: Timestamp,
    /// The plan file as given.
    pub plan: String,
    /// SHA-256 of the plan file's bytes.
    pub plan_sha256: String,
    /// Where the run acted, in plan order; the other lines name theirs by [`TargetLine::name`].
    pub targets: Vec<TargetLine>,
    /// Apply or dry run.
    pub mode: RunMode,
}

/// One target of a run, as the `run` line lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetLine {
    /// The plan's name for it; `null` for the one target of a plan without `targets:`.
    pub name: Option<String>,
    /// The account.
    pub account: AccountId,
    /// The region.
    pub region: String,
    /// The custom endpoint, if any.
    pub endpoint: Option<String>,
}

impl From<&Target> for TargetLine {
    fn from(target: &Target) -> Self {
        Self {
            name: target.name.clone(),
            account: target.account_id.clone(),
            region: target.region.clone(),
            endpoint: target.endpoint.clone(),
        }
    }
}

impl From<&TargetLine> for Target {
    fn from(line: &TargetLine) -> Self {
        Self {
            name: line.name.clone(),
            account_id: line.account.clone(),
            region: line.region.clone(),
            endpoint: line.endpoint.clone(),
        }
    }
}

/// A `run` line as stored: format 3's `targets`, or format 2's one `account`, `region` and `endpoint`. Only
/// reading goes through it; [`RunLine`] is what is written, so a written line always reads back the same.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredRunLine {
    format: u32,
    started_at: Timestamp,
    plan: String,
    plan_sha256: String,
    #[serde(default)]
    targets: Option<Vec<TargetLine>>,
    #[serde(default)]
    account: Option<AccountId>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    mode: RunMode,
}

impl TryFrom<StoredRunLine> for RunLine {
    type Error = String;

    fn try_from(stored: StoredRunLine) -> Result<Self, Self::Error> {
        let targets = match (stored.format, stored.targets, stored.account, stored.region) {
            (2, None, Some(account), Some(region)) => vec![TargetLine {
                name: None,
                account,
                region,
                endpoint: stored.endpoint,
            }],
            (2, ..) => {
                return Err("a format 2 run line names its account and region, not targets".into());
            }
            (_, Some(targets), None, None) if stored.endpoint.is_none() && !targets.is_empty() => {
                targets
            }
            _ => {
                return Err(format!(
                    "a format {} run line lists its targets (and no account, region or endpoint of its own)",
                    stored.format
                ));
            }
        };
        Ok(Self {
            format: stored.format,
            started_at: stored.started_at,
            plan: stored.plan,
            plan_sha256: stored.plan_sha256,
            targets,
            mode: stored.mode,
        })
    }
}

/// A `job` line: one job of one entry, as resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobLine {
    /// The entry's name.
    pub entry: String,
    /// The job's target, by its name in the `run` line's `targets` (`null` for the unnamed one). Absent in
    /// format 2, whose runs had one unnamed target.
    #[serde(default)]
    pub target: Option<String>,
    /// The job.
    pub job: JobId,
    /// Its description.
    pub description: Option<String>,
    /// Its status when resolved.
    pub status_before: JobStatus,
    /// What the entry asks of it, in the order it is sent.
    pub actions: Vec<Action>,
}

/// An `intent` line: written and made durable before the request is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentLine {
    /// When it was recorded.
    pub at: Timestamp,
    /// The entry's name.
    pub entry: String,
    /// The job's target, by its name in the `run` line's `targets` (`null` for the unnamed one). Absent in
    /// format 2, whose runs had one unnamed target.
    #[serde(default)]
    pub target: Option<String>,
    /// The job.
    pub job: JobId,
    /// The action sent.
    pub action: Action,
    /// The call that carries it (for people reading the file; always `action`'s call).
    pub call: ApiCall,
    /// The `StatusUpdateReason` sent.
    pub reason: Option<String>,
    /// The attempt, from 1.
    pub attempt: u32,
}

/// An `ack` line: the answer to an intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckLine {
    /// When it was recorded.
    pub at: Timestamp,
    /// The entry's name.
    pub entry: String,
    /// The job's target, by its name in the `run` line's `targets` (`null` for the unnamed one). Absent in
    /// format 2, whose runs had one unnamed target.
    #[serde(default)]
    pub target: Option<String>,
    /// The job.
    pub job: JobId,
    /// The action answered.
    pub action: Action,
    /// The call that carries it.
    pub call: ApiCall,
    /// The attempt answered.
    pub attempt: u32,
    /// The status answered, on success of UpdateJobStatus.
    pub status: Option<JobStatus>,
    /// The AWS error code on failure, or the stable name of the failure's kind when it has none
    /// (`ApiErrorKind::as_str`).
    pub error_code: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
}

impl AckLine {
    /// Whether the call succeeded.
    pub fn is_success(&self) -> bool {
        self.error_code.is_none()
    }
}

/// A `carried` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarriedLine {
    /// The entry's name.
    pub entry: String,
    /// The job's target, by its name in the `run` line's `targets` (`null` for the unnamed one). Absent in
    /// format 2, whose runs had one unnamed target.
    #[serde(default)]
    pub target: Option<String>,
    /// The job.
    pub job: JobId,
    /// The action.
    pub action: Action,
    /// The status UpdateJobStatus answered then.
    pub status: Option<JobStatus>,
    /// The request id of that answer.
    pub request_id: Option<String>,
    /// Mutating attempts made then.
    pub attempts: u32,
    /// The earlier run sent the request and recorded no answer: the job must be read before acting.
    pub uncertain: bool,
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

/// Reads every line of the journal at `path`. A last line that does not parse (cut short by a kill) is
/// dropped; a bad line elsewhere, or a journal of another format, is an error.
pub fn read(path: &Path) -> Result<Vec<Line>, ReadError> {
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

/// Parses journal text; `Err((line, message))` for a bad line that is not the last, or a `run` line of
/// another format.
pub fn parse(text: &str) -> Result<Vec<Line>, (usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(found) = other_format(line) {
            return Err((
                i + 1,
                format!(
                    "a journal of format {found}; this s3plan reads formats 2 and {FORMAT_VERSION} (finish or report it with the s3plan that wrote it)"
                ),
            ));
        }
        match serde_json::from_str::<Line>(line) {
            Ok(record) => records.push(record),
            Err(_) if i + 1 == lines.len() => {}
            Err(error) => return Err((i + 1, error.to_string())),
        }
    }
    Ok(records)
}

/// The format of a `run` line this s3plan does not read (1 when it has no `format` field).
fn other_format(line: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct Probe {
        record: String,
        format: Option<u64>,
    }
    let probe: Probe = serde_json::from_str(line).ok()?;
    let found = probe.format.unwrap_or(1);
    (probe.record == "run" && !READ_FORMATS.iter().any(|&f| u64::from(f) == found)).then_some(found)
}

/// Renders `line` as one line of the journal, newline included.
pub fn render(line: &Line, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, line)?;
    out.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::api::TargetStatus;

    fn job_id() -> impl Strategy<Value = JobId> {
        "[a-z0-9-]{5,36}".prop_map(|s| JobId::parse(&s).unwrap())
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            any::<i32>().prop_map(Action::SetPriority),
            Just(Action::SetStatus(TargetStatus::Ready)),
            Just(Action::SetStatus(TargetStatus::Cancelled)),
        ]
    }

    fn status() -> impl Strategy<Value = JobStatus> {
        proptest::sample::select(JobStatus::ALL.to_vec())
    }

    fn at() -> impl Strategy<Value = Timestamp> {
        (0i64..4_000_000_000, 0i32..1_000_000_000).prop_map(|(s, n)| Timestamp::new(s, n).unwrap())
    }

    fn text() -> impl Strategy<Value = String> {
        ".{0,40}"
    }

    fn target_name() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn target_line() -> impl Strategy<Value = TargetLine> {
        (
            target_name(),
            "[0-9]{12}",
            text(),
            proptest::option::of(text()),
        )
            .prop_map(|(name, account, region, endpoint)| TargetLine {
                name,
                account: AccountId::parse(&account).unwrap(),
                region,
                endpoint,
            })
    }

    fn line() -> impl Strategy<Value = Line> {
        prop_oneof![
            (
                at(),
                text(),
                text(),
                proptest::collection::vec(target_line(), 1..4),
                any::<bool>()
            )
                .prop_map(|(started_at, plan, sha, targets, dry)| {
                    Line::Run(RunLine {
                        format: FORMAT_VERSION,
                        started_at,
                        plan,
                        plan_sha256: sha,
                        targets,
                        mode: if dry { RunMode::DryRun } else { RunMode::Apply },
                    })
                }),
            (
                text(),
                target_name(),
                job_id(),
                proptest::option::of(text()),
                status(),
                proptest::collection::vec(action(), 0..3)
            )
                .prop_map(
                    |(entry, target, job, description, status_before, actions)| {
                        Line::Job(JobLine {
                            entry,
                            target,
                            job,
                            description,
                            status_before,
                            actions,
                        })
                    }
                ),
            (
                at(),
                (text(), target_name()),
                job_id(),
                action(),
                proptest::option::of(text()),
                any::<u32>()
            )
                .prop_map(|(at, (entry, target), job, action, reason, attempt)| {
                    Line::Intent(IntentLine {
                        at,
                        entry,
                        target,
                        job,
                        action,
                        call: action.call(),
                        reason,
                        attempt,
                    })
                }),
            (
                at(),
                (text(), target_name()),
                job_id(),
                action(),
                any::<u32>(),
                proptest::option::of(status()),
                proptest::option::of(text()),
                proptest::option::of(text())
            )
                .prop_map(
                    |(
                        at,
                        (entry, target),
                        job,
                        action,
                        attempt,
                        status,
                        error_code,
                        request_id,
                    )| {
                        Line::Ack(AckLine {
                            at,
                            entry,
                            target,
                            job,
                            action,
                            call: action.call(),
                            attempt,
                            status,
                            error_code,
                            request_id,
                        })
                    }
                ),
            (
                (text(), target_name()),
                job_id(),
                action(),
                proptest::option::of(status()),
                proptest::option::of(text()),
                any::<u32>(),
                any::<bool>()
            )
                .prop_map(
                    |((entry, target), job, action, status, request_id, attempts, uncertain)| {
                        Line::Carried(CarriedLine {
                            entry,
                            target,
                            job,
                            action,
                            status,
                            request_id,
                            attempts,
                            uncertain,
                        })
                    }
                ),
        ]
    }

    proptest! {
        /// Whatever the writer renders, the reader reads back as the same lines.
        #[test]
        fn every_line_reads_back_as_written(lines in proptest::collection::vec(line(), 0..20)) {
            let mut text = Vec::new();
            for line in &lines {
                render(line, &mut text).unwrap();
            }
            let read = parse(std::str::from_utf8(&text).unwrap()).map_err(|e| TestCaseError::fail(e.1))?;
            prop_assert_eq!(read, lines);
        }
    }

    #[test]
    fn a_journal_of_another_format_is_refused() {
        let old = r#"{"record":"run","started_at":"2026-11-29T10:00:00Z","plan":"p.yaml","plan_sha256":"ab","account":"111122223333","region":"us-east-1","endpoint":null,"mode":"apply"}"#;
        let (line, message) = parse(old).unwrap_err();
        assert_eq!(line, 1);
        assert!(message.contains("format 1"), "{message}");
    }

    #[test]
    fn a_format_2_journal_reads_as_one_unnamed_target() {
        let old = r#"{"record":"run","format":2,"started_at":"2026-11-29T10:00:00Z","plan":"p.yaml","plan_sha256":"ab","account":"111122223333","region":"us-east-1","endpoint":"http://127.0.0.1:9000","mode":"apply"}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}
"#;
        let lines = parse(old).unwrap();
        let Line::Run(run) = &lines[0] else {
            panic!("{lines:?}")
        };
        assert_eq!(
            run.targets,
            vec![TargetLine {
                name: None,
                account: AccountId::parse("111122223333").unwrap(),
                region: "us-east-1".to_owned(),
                endpoint: Some("http://127.0.0.1:9000".to_owned()),
            }]
        );
        let Line::Intent(intent) = &lines[1] else {
            panic!("{lines:?}")
        };
        assert_eq!(intent.target, None);
    }

    #[test]
    fn a_run_line_mixing_targets_and_one_account_is_refused() {
        for bad in [
            r#"{"record":"run","format":3,"started_at":"2026-11-29T10:00:00Z","plan":"p.yaml","plan_sha256":"ab","account":"111122223333","region":"us-east-1","endpoint":null,"mode":"apply"}"#,
            r#"{"record":"run","format":3,"started_at":"2026-11-29T10:00:00Z","plan":"p.yaml","plan_sha256":"ab","targets":[],"mode":"apply"}"#,
            r#"{"record":"run","format":2,"started_at":"2026-11-29T10:00:00Z","plan":"p.yaml","plan_sha256":"ab","targets":[{"name":null,"account":"111122223333","region":"us-east-1","endpoint":null}],"mode":"apply"}"#,
        ] {
            assert!(parse(&format!("{bad}\n\n")).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unknown_status_is_an_error_not_a_silent_gap() {
        let text = "{\"record\":\"job\",\"entry\":\"e\",\"job\":\"j\",\"description\":null,\"status_before\":\"Bogus\",\"actions\":[]}\n\n";
        assert!(parse(text).is_err());
    }
}
