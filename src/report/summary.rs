//! The final summary for people: outcome counts, then every job that did not succeed with its call, AWS
//! error code, request id and a hint about what to do.
//!
//! A run over several targets also gets a line per target with its counts, and each failed job names its
//! target. Owns the wording of failures and their hints. Keeps counts (over the run and per target), the
//! records of the jobs it prints one by one (those a call or an error touched) and, for the jobs never
//! touched, one count per entry, target and reason (an interrupted run of a million jobs keeps a handful of
//! numbers, not a million records); writes once, at `RunFinished`. Does not own the JSON report (`json.rs`)
//! or live progress.

use std::io::Write;

use crate::api::{ApiCall, ApiErrorKind};
use crate::event::{Event, EventKind, JobIndex, JobRecord};
use crate::exec::Outcome;
use crate::report::Reporter;
use crate::report::run_record::OutcomeCounts;

/// What the operator can do about a failure of `kind` in `call`.
pub fn hint(kind: ApiErrorKind, call: ApiCall) -> &'static str {
    match (kind, call) {
        (ApiErrorKind::AccessDenied, ApiCall::UpdateJobStatus) => {
            "the credentials lack `s3:UpdateJobStatus` on this job: check the IAM policy, account and region"
        }
        (ApiErrorKind::AccessDenied, ApiCall::UpdateJobPriority) => {
            "the credentials lack `s3:UpdateJobPriority` on this job: check the IAM policy, account and region"
        }
        // AWS answers AccessDenied too when the account id names an account the credentials cannot use.
        (ApiErrorKind::AccessDenied, ApiCall::DescribeJob) => {
            "the credentials lack `s3:DescribeJob`, or the account id is not one they can use: check the IAM policy and --account-id"
        }
        (ApiErrorKind::AccessDenied, ApiCall::ListJobs) => {
            "the credentials lack `s3:ListJobs`, or the account id is not one they can use: check the IAM policy and --account-id"
        }
        (ApiErrorKind::AccessDenied, _) => {
            "the credentials lack a permission, or the account id is not one they can use: check the IAM policy and --account-id"
        }
        (ApiErrorKind::InvalidCredentials, _) => {
            "the credentials are missing, wrong or expired: refresh them (e.g. `aws sso login`) and rerun"
        }
        (ApiErrorKind::NotFound, _) => {
            "no such job here: wrong account or region, or the job ended more than 90 days ago"
        }
        (ApiErrorKind::JobStatusConflict, _) => {
            "the job's status does not allow this request: rerun to see its current status"
        }
        (ApiErrorKind::Throttled, _) => "the API kept throttling: lower `rate_limit` and rerun",
        (ApiErrorKind::ServerError, _) => {
            "AWS kept failing: rerun later; jobs already at target are left alone"
        }
        (ApiErrorKind::Timeout | ApiErrorKind::Connection, _) => {
            "the endpoint did not answer: check the network, the region and `--endpoint-url`"
        }
        (ApiErrorKind::BadRequest, _) => {
            "AWS rejected the request: check the job id and the plan's values"
        }
        (ApiErrorKind::MalformedResponse, _) => {
            "the answer is not one S3 Control gives: check that `--endpoint-url` points at S3 Control (or a running `s3plan sandbox`)"
        }
        (ApiErrorKind::Other, _) => "see the message; rerun with -v for details",
    }
}

/// Writes the end-of-run summary to a writer (stdout in the command).
pub struct SummaryReporter {
    out: Box<dyn Write + Send>,
    counts: [usize; Outcome::ALL.len()],
    /// The run's targets, from `RunStarted`, with their jobs per outcome.
    targets: Vec<(String, OutcomeCounts)>,
    /// Unsuccessful jobs printed one by one.
    touched: Vec<JobRecord>,
    /// Jobs never touched, counted per entry, target and reason, with the first of them in plan order (the
    /// groups are printed in that order).
    untouched: Vec<UntouchedGroup>,
    resume_command: Option<String>,
}

/// Jobs of one entry (in one target, when the run has several) that ended `not_run` for one reason
/// without a call or an error.
#[derive(Debug)]
struct UntouchedGroup {
    /// How the summary names them: the entry, and its target when the run has several.
    label: String,
    entry: std::sync::Arc<str>,
    /// The target, when the run has several and it is known.
    target: Option<usize>,
    reason: Option<String>,
    first: JobIndex,
    jobs: usize,
}

impl std::fmt::Debug for SummaryReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SummaryReporter")
            .field("counts", &self.counts)
            .field("resume_command", &self.resume_command)
            .finish_non_exhaustive()
    }
}

impl SummaryReporter {
    /// A summary written to `out` when the run finishes.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out,
            counts: [0; Outcome::ALL.len()],
            targets: Vec::new(),
            touched: Vec::new(),
            untouched: Vec::new(),
            resume_command: None,
        }
    }

    /// The command that continues this run from its journal, printed when the run is interrupted.
    #[must_use]
    pub fn resume_with(mut self, command: String) -> Self {
        self.resume_command = Some(command);
        self
    }

    fn write(&mut self, interrupted: bool) -> std::io::Result<()> {
        self.touched.sort_by_key(|r| r.index);
        self.untouched.sort_by_key(|g| g.first);
        let total: usize = self.counts.iter().sum();
        let parts: Vec<String> = Outcome::ALL
            .iter()
            .zip(self.counts)
            .filter(|(_, n)| *n > 0)
            .map(|(o, n)| format!("{n} {}", o.as_str().replace('_', " ")))
            .collect();
        let tail = if interrupted { " (interrupted)" } else { "" };
        let jobs = if total == 1 { "job" } else { "jobs" };
        writeln!(self.out, "{total} {jobs}: {}{tail}", parts.join(", "))?;
        // With one target the line above says it all; with several, each gets its own.
        let several = self.targets.len() > 1;
        if several {
            let width = self
                .targets
                .iter()
                .map(|(label, _)| label.chars().count())
                .max()
                .unwrap_or(0);
            for (label, counts) in &self.targets {
                writeln!(
                    self.out,
                    "  {:<width$}  {}: {}",
                    format!("{label}:"),
                    crate::text::plural(counts.total(), "job"),
                    counts.describe(),
                    width = width + 1
                )?;
            }
        }
        for record in &self.touched {
            let label = self.label(record, self.target_of(record));
            write!(self.out, "  {} {} [{label}]", record.outcome, record.job_id)?;
            if let Some(error) = &record.error {
                write!(self.out, " {} {}", error.call, error.code)?;
            }
            if let Some(id) = &record.request_id {
                write!(self.out, " (request id {id})")?;
            }
            writeln!(self.out)?;
            if let Some(reason) = &record.reason {
                writeln!(self.out, "    {reason}")?;
            }
            if let Some(error) = &record.error {
                writeln!(self.out, "    {}", error.message)?;
                writeln!(self.out, "    hint: {}", hint(error.kind, error.call))?;
            }
        }
        for group in &self.untouched {
            write!(
                self.out,
                "  {} {} [{}]",
                Outcome::NotRun,
                crate::text::plural(group.jobs, "job"),
                group.label
            )?;
            match &group.reason {
                Some(reason) => writeln!(self.out, ": {reason}")?,
                None => writeln!(self.out)?,
            }
        }
        if interrupted && let Some(command) = &self.resume_command {
            writeln!(self.out, "to continue where this run stopped:\n  {command}")?;
        }
        self.out.flush()
    }
}

/// Jobs the run never touched (no call sent, no error) say nothing one by one: after an interrupt there can
/// be thousands, so they are counted per entry, target and reason instead.
fn is_untouched(record: &JobRecord) -> bool {
    record.outcome == Outcome::NotRun && record.attempts == 0 && record.error.is_none()
}

impl SummaryReporter {
    /// `record`'s target, when the run has several (with one, the summary names none) and it is known.
    fn target_of(&self, record: &JobRecord) -> Option<usize> {
        (self.targets.len() > 1 && record.target < self.targets.len()).then_some(record.target)
    }

    /// `entry in target` when the job's target is named, else the entry.
    fn label(&self, record: &JobRecord, target: Option<usize>) -> String {
        match target.and_then(|t| self.targets.get(t)) {
            Some((label, _)) => format!("{} in {label}", record.entry),
            None => record.entry.to_string(),
        }
    }

    fn count_untouched(&mut self, record: &JobRecord) {
        let target = self.target_of(record);
        // Targets are compared by how they are named, as the printed groups are.
        let named = |t: Option<usize>| t.and_then(|t| self.targets.get(t)).map(|(l, _)| l.as_str());
        let found = self.untouched.iter().position(|g| {
            *g.entry == *record.entry
                && named(g.target) == named(target)
                && g.reason.as_deref() == record.reason.as_deref()
        });
        match found {
            Some(at) => {
                let group = &mut self.untouched[at];
                group.jobs += 1;
                group.first = group.first.min(record.index);
            }
            None => {
                let label = self.label(record, target);
                self.untouched.push(UntouchedGroup {
                    label,
                    entry: record.entry.clone(),
                    target,
                    reason: record.reason.clone(),
                    first: record.index,
                    jobs: 1,
                });
            }
        }
    }
}

impl Reporter for SummaryReporter {
    fn name(&self) -> &str {
        "summary"
    }

    fn report(&mut self, event: &Event) -> std::io::Result<()> {
        match &event.kind {
            EventKind::RunStarted(info) => {
                self.targets = info
                    .targets
                    .iter()
                    .map(|t| (t.label(), OutcomeCounts::default()))
                    .collect();
            }
            EventKind::JobFinished(record) => {
                if let Some(i) = Outcome::ALL.iter().position(|o| *o == record.outcome) {
                    self.counts[i] += 1;
                }
                if let Some((_, counts)) = self.targets.get_mut(record.target) {
                    counts.add(record.outcome);
                }
                if !record.outcome.is_success() {
                    if is_untouched(record) {
                        self.count_untouched(record);
                    } else {
                        self.touched.push((**record).clone());
                    }
                }
            }
            EventKind::RunFinished { interrupted } => self.write(*interrupted)?,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use jiff::Timestamp;

    use super::*;
    use crate::api::{ApiError, JobId, JobStatus, TargetStatus};
    use crate::event::{ErrorView, JobIndex};

    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn finished(job: usize, id: &str, outcome: Outcome, error: Option<ApiError>) -> Event {
        let at = Timestamp::from_second(1_780_000_000).unwrap();
        Event {
            at,
            elapsed: Duration::ZERO,
            kind: EventKind::JobFinished(Box::new(JobRecord {
                index: JobIndex { entry: 0, job },
                target: 0,
                entry: Arc::from("cancel-nightly"),
                job_id: JobId::parse(id).unwrap(),
                description: None,
                status_before: Some(JobStatus::Active),
                actions: vec![crate::resolved::Action::SetStatus(TargetStatus::Cancelled)],
                status_after: None,
                outcome,
                attempts: 1,
                waited: Duration::ZERO,
                reason: (!outcome.is_success())
                    .then(|| "UpdateJobStatus failed after 1 attempt".to_owned()),
                request_id: error.as_ref().and_then(|e| e.request_id.clone()),
                error: error.as_ref().map(ErrorView::from),
                tasks: None,
                failure_reasons: Vec::new(),
                started_at: at,
                finished_at: at,
            })),
        }
    }

    #[test]
    fn failures_name_the_job_call_code_request_id_and_a_hint() {
        let buffer = SharedBuf::default();
        let mut reporter = SummaryReporter::new(Box::new(buffer.clone()));
        let denied = ApiError {
            call: ApiCall::UpdateJobStatus,
            kind: ApiErrorKind::AccessDenied,
            code: Some("AccessDenied".to_owned()),
            message: Some("not allowed".to_owned()),
            request_id: Some("REQ42".to_owned()),
            http_status: Some(403),
        };
        for event in [
            finished(0, "job-ok-1", Outcome::Applied, None),
            finished(1, "job-ok-2", Outcome::Unchanged, None),
            finished(2, "job-denied", Outcome::Failed, Some(denied)),
            Event {
                at: Timestamp::from_second(1_780_000_001).unwrap(),
                elapsed: Duration::ZERO,
                kind: EventKind::RunFinished { interrupted: false },
            },
        ] {
            reporter.report(&event).unwrap();
        }
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        insta::assert_snapshot!(text);
    }

    fn summed(events: Vec<Event>) -> String {
        let buffer = SharedBuf::default();
        let mut reporter = SummaryReporter::new(Box::new(buffer.clone()));
        for event in events {
            reporter.report(&event).unwrap();
        }
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_run_over_several_targets_counts_each_and_names_each_failed_jobs_target() {
        use crate::report::run_record::fixtures::multi_target_events;
        let text = summed(multi_target_events(crate::resolved::RunMode::Apply, true));
        assert!(
            text.contains("  dr/us-west-2:  3 jobs: 1 skipped, 1 timed out, 1 not run\n"),
            "{text}"
        );
        assert!(
            text.contains("  failed job-failed [cancel-nightly in dr/us-east-1]"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_run_with_one_target_says_nothing_of_it() {
        use crate::report::run_record::fixtures::run_events;
        let events = run_events(crate::resolved::RunMode::Apply, true);
        let without_start: Vec<Event> = events
            .iter()
            .filter(|e| !matches!(e.kind, EventKind::RunStarted(_)))
            .cloned()
            .collect();
        let text = summed(events);
        assert_eq!(text, summed(without_start));
        assert!(!text.contains(" in "), "{text}");
    }
}
