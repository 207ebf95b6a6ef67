//! The JUnit XML report, for CI systems: one test suite per entry, one test case per job.
//!
//! Owns the mapping of outcomes onto JUnit, written with `quick-junit` (nextest's writer):
//!
//! - `applied`, `unchanged`, `would_apply` and `skipped` pass, each with a `<system-out>` note (before →
//!   after, reason, attempts, request id). `skipped` means the target was moot (asked to cancel a job that
//!   already completed); s3plan's exit code counts it a success, so it is a passing case, not a JUnit
//!   `<skipped>`, which CI systems show as "not executed" and some treat as a failure. JUnit's pass/fail then
//!   agrees with the exit code: the suite fails exactly when a job made it 1.
//! - `failed`, `timed_out` and `not_run` are `<failure>`s: `type` is the AWS error code (else the outcome),
//!   `message` the error message (else the reason), and the text names the call, code, request id and hint.
//!
//! Case names are job ids, class names the entry; times are each job's start to finish. Run facts (plan,
//! hash, account, region, endpoint, mode, who ran it, interrupted) are `<properties>` of every suite.
//!
//! A run over a plan's `targets:` has one suite per target and entry (targets in plan order, each with the
//! entries that have jobs there), named and class-named `TARGET.ENTRY` — CI systems that split class names
//! at the last dot (Jenkins) then show the target as the package and the entry as the class; target and
//! entry names never contain a dot. Each such suite's properties say its target (`target`, `account_id`,
//! `region`, `endpoint`). Entries without any job keep a suite of their own, named after the entry.
//! Renders a [`RunRecord`], the same data as the JSON report. Does not accumulate events or open the file
//! (`format.rs`), nor decide where the file goes.

use std::io::Write;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::event::JobRecord;
use crate::report::run_record::{EntryRecords, RunRecord, outcome_hint, status_change};
use crate::resolved::{RunMode, Target};

/// Writes the JUnit XML report of a finished run.
pub fn render(record: &RunRecord, out: &mut dyn Write) -> std::io::Result<()> {
    to_junit(record)?
        .serialize(out)
        .map_err(std::io::Error::other)
}

/// The JUnit document of a finished run (its rows read back from the spool: a read can fail).
pub fn to_junit(record: &RunRecord) -> std::io::Result<Report> {
    let mut report = Report::new("s3plan");
    report.set_time(record.elapsed);
    if !record.is_multi_target() {
        let properties = run_properties(record, record.targets().first(), false);
        for entry in record.entries() {
            report.add_test_suite(suite(entry.name, &entry, &properties)?);
        }
        return Ok(report);
    }
    for target in record.by_target() {
        let properties = run_properties(record, Some(target.target), true);
        let label = target.target.label();
        for entry in record.entries_in(target.index) {
            let name = format!("{label}.{}", entry.name);
            report.add_test_suite(suite(&name, &entry, &properties)?);
        }
    }
    let properties = run_properties(record, None, false);
    for entry in record.entries_without_jobs() {
        report.add_test_suite(suite(entry.name, &entry, &properties)?);
    }
    Ok(report)
}

/// The run's facts, with `target`'s place when the suite is about one (and its name when `named`).
fn run_properties(record: &RunRecord, target: Option<&Target>, named: bool) -> Vec<Property> {
    let meta = &record.meta;
    let mut properties = vec![
        Property::new("plan", meta.plan.path.as_str()),
        Property::new("plan_sha256", meta.plan.sha256.as_str()),
    ];
    if let Some(target) = target {
        if named {
            properties.push(Property::new("target", target.label()));
        }
        properties.push(Property::new("account_id", target.account_id.as_str()));
        properties.push(Property::new("region", target.region.as_str()));
        if let Some(endpoint) = &target.endpoint {
            properties.push(Property::new("endpoint", endpoint.as_str()));
        }
    }
    if let Some(info) = &record.info {
        let mode = match info.mode {
            RunMode::Apply => "apply",
            RunMode::DryRun => "dry_run",
        };
        properties.push(Property::new("mode", mode));
    }
    if let Some(operator) = &meta.operator {
        properties.push(Property::new("run_by", operator.as_str()));
    }
    if let Some(at) = record.started_at {
        properties.push(Property::new("started_at", at.to_string()));
    }
    if let Some(at) = record.finished_at {
        properties.push(Property::new("finished_at", at.to_string()));
    }
    properties.push(Property::new(
        "interrupted",
        if record.interrupted { "true" } else { "false" },
    ));
    properties
}

/// The suite named `name` of `entry`'s jobs; its cases are class-named `name` too.
fn suite(
    name: &str,
    entry: &EntryRecords<'_>,
    properties: &[Property],
) -> std::io::Result<TestSuite> {
    let mut suite = TestSuite::new(name);
    suite.add_properties(properties.iter().cloned());
    if let (Some(first), Some(last)) = (entry.first_started, entry.last_finished) {
        suite.set_time(span(first, last));
    }
    for job in entry.jobs() {
        suite.add_test_case(case(name, &job?));
    }
    Ok(suite)
}

fn case(classname: &str, job: &JobRecord) -> TestCase {
    let status = if job.outcome.is_success() {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        let ty = job
            .error
            .as_ref()
            .map_or(job.outcome.as_str(), |e| e.code.as_str());
        status.set_type(ty);
        let message = job
            .error
            .as_ref()
            .map(|e| e.message.as_str())
            .or(job.reason.as_deref())
            .unwrap_or(job.outcome.as_str());
        status.set_message(message);
        status.set_description(failure_text(job));
        status
    };
    let mut case = TestCase::new(job.job_id.as_str(), status);
    case.set_classname(classname);
    case.set_time(span(job.started_at, job.finished_at));
    case.set_system_out(note(job));
    case
}

/// The run of one job in words, for `<system-out>`.
fn note(job: &JobRecord) -> String {
    let mut lines = Vec::new();
    if let Some(description) = &job.description {
        lines.push(format!("description: {description}"));
    }
    lines.push(format!("outcome: {}", job.outcome));
    lines.push(format!("status: {}", status_change(job, "->")));
    if let Some(target) = job.requested() {
        lines.push(format!("requested: {target}"));
    }
    if let Some(priority) = job.priority_requested() {
        lines.push(format!("priority requested: {priority}"));
    }
    if let Some(reason) = &job.reason {
        lines.push(format!("reason: {reason}"));
    }
    lines.push(format!("attempts: {}", job.attempts));
    if let Some(id) = &job.request_id {
        lines.push(format!("request id: {id}"));
    }
    lines.join("\n")
}

/// What failed and what to do, for the text of `<failure>`.
fn failure_text(job: &JobRecord) -> String {
    let mut lines = Vec::new();
    if let Some(reason) = &job.reason {
        lines.push(reason.clone());
    }
    if let Some(error) = &job.error {
        lines.push(format!("call: {}", error.call));
        lines.push(format!("error code: {}", error.code));
    }
    if let Some(id) = &job.request_id {
        lines.push(format!("request id: {id}"));
    }
    if let Some(hint) = outcome_hint(job) {
        lines.push(format!("hint: {hint}"));
    }
    lines.join("\n")
}

fn span(from: jiff::Timestamp, to: jiff::Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use quick_xml::XmlVersion;
    use quick_xml::events::Event as Xml;

    use super::*;
    use crate::report::Reporter;
    use crate::report::run_record::ReportSink;
    use crate::report::run_record::fixtures::{SharedBuf, meta, run_events};

    fn written() -> String {
        let buffer = SharedBuf::default();
        let mut reporter = crate::report::format::ReportFormat::Junit
            .reporter(meta(), ReportSink::Writer(Box::new(buffer.clone())));
        for event in run_events(RunMode::Apply, true) {
            reporter.report(&event).unwrap();
        }
        buffer.text()
    }

    /// Every element of the document with its attributes, checking well-formedness on the way.
    fn elements(xml: &str) -> Vec<(String, BTreeMap<String, String>)> {
        let mut reader = quick_xml::Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let mut out = Vec::new();
        let mut depth = 0_i32;
        loop {
            let (element, opens) = match reader.read_event().unwrap() {
                Xml::Start(e) => (e, true),
                Xml::Empty(e) => (e, false),
                Xml::End(_) => {
                    depth -= 1;
                    continue;
                }
                Xml::Eof => break,
                _ => continue,
            };
            let name = element.name().0.to_owned();
            let attrs = element
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    let key = a.key.0.to_owned();
                    (
                        key,
                        a.normalized_value(XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned(),
                    )
                })
                .collect();
            out.push((name, attrs));
            depth += i32::from(opens);
        }
        assert_eq!(depth, 0, "unclosed elements");
        out
    }

    #[test]
    fn the_report_reads_back_as_junit() {
        let xml = written();
        let report = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(report.tests, 7);
        assert_eq!(report.failures, 3);
        assert_eq!(report.errors, 0);
        assert_eq!(report.skipped, 0);
        let suites: Vec<(&str, usize, usize)> = report
            .test_suites
            .iter()
            .map(|s| (s.name.as_str(), s.tests, s.failures))
            .collect();
        assert_eq!(suites, [("cancel-nightly", 5, 1), ("confirm-batch", 2, 2)]);
        let failed = report.test_suites[0]
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "job-failed")
            .unwrap();
        assert_eq!(
            failed.classname.as_ref().unwrap().as_str(),
            "cancel-nightly"
        );
        assert_eq!(failed.time, Some(Duration::from_millis(250)));
        let TestCaseStatus::NonSuccess {
            kind,
            message,
            ty,
            description,
            ..
        } = &failed.status
        else {
            panic!("job-failed passed: {:?}", failed.status);
        };
        assert_eq!(*kind, NonSuccessKind::Failure);
        assert_eq!(ty.as_ref().unwrap().as_str(), "AccessDenied");
        assert!(message.as_ref().unwrap().as_str().contains("not allowed"));
        let text = description.as_ref().unwrap().as_str();
        assert!(text.contains("request id: REQ000003"), "{text}");
        assert!(text.contains("hint: "), "{text}");
        let skipped = report.test_suites[0]
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "job-skipped")
            .unwrap();
        assert!(matches!(skipped.status, TestCaseStatus::Success { .. }));
        let out = skipped.system_out.as_ref().unwrap().as_str();
        assert!(out.contains("nothing left to cancel"), "{out}");
    }

    #[test]
    fn the_report_has_the_attributes_ci_systems_read() {
        let xml = written();
        let elements = elements(&xml);
        let required: [(&str, &[&str]); 4] = [
            (
                "testsuites",
                &["name", "tests", "failures", "errors", "time"],
            ),
            (
                "testsuite",
                &["name", "tests", "failures", "errors", "skipped", "time"],
            ),
            ("testcase", &["name", "classname", "time"]),
            ("failure", &["message", "type"]),
        ];
        for (element, attributes) in required {
            let found: Vec<_> = elements.iter().filter(|(n, _)| n == element).collect();
            assert!(!found.is_empty(), "no <{element}>");
            for (_, attrs) in found {
                for attribute in attributes {
                    assert!(
                        attrs.contains_key(*attribute),
                        "<{element}> lacks {attribute}"
                    );
                }
            }
        }
        let count = |name: &str| elements.iter().filter(|(n, _)| n == name).count();
        assert_eq!(count("testsuite"), 2);
        assert_eq!(count("testcase"), 7);
        assert_eq!(count("failure"), 3);
        assert_eq!(count("skipped"), 0);
        let failure_types: Vec<&str> = elements
            .iter()
            .filter(|(n, _)| n == "failure")
            .map(|(_, a)| a["type"].as_str())
            .collect();
        assert_eq!(failure_types, ["AccessDenied", "timed_out", "not_run"]);
    }

    #[test]
    fn snapshot() {
        let xml = written();
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(r#"time="[0-9.]+""#, r#"time="[time]""#);
        settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]");
        settings.bind(|| insta::assert_snapshot!(xml));
    }

    #[test]
    fn a_run_over_several_targets_has_a_suite_per_target_and_entry() {
        use crate::report::run_record::fixtures::multi_target_events;
        let buffer = SharedBuf::default();
        let mut reporter = crate::report::format::ReportFormat::Junit
            .reporter(meta(), ReportSink::Writer(Box::new(buffer.clone())));
        for event in multi_target_events(RunMode::Apply, true) {
            reporter.report(&event).unwrap();
        }
        let xml = buffer.text();
        let report = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!((report.tests, report.failures), (7, 3));
        let suites: Vec<(&str, usize, usize)> = report
            .test_suites
            .iter()
            .map(|s| (s.name.as_str(), s.tests, s.failures))
            .collect();
        assert_eq!(
            suites,
            [
                ("prod-us.cancel-nightly", 2, 0),
                ("dr/us-east-1.cancel-nightly", 2, 1),
                ("dr/us-west-2.cancel-nightly", 1, 0),
                ("dr/us-west-2.confirm-batch", 2, 2),
                ("suspend-later", 0, 0),
            ]
        );
        let suite = &report.test_suites[1];
        let property = |name: &str| {
            suite
                .properties
                .iter()
                .find(|p| p.name.as_str() == name)
                .map(|p| p.value.as_str().to_owned())
        };
        assert_eq!(property("target").as_deref(), Some("dr/us-east-1"));
        assert_eq!(property("account_id").as_deref(), Some("444455556666"));
        assert_eq!(property("region").as_deref(), Some("us-east-1"));
        for case in &suite.test_cases {
            assert_eq!(
                case.classname.as_ref().unwrap().as_str(),
                "dr/us-east-1.cancel-nightly"
            );
        }
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(r#"time="[0-9.]+""#, r#"time="[time]""#);
        settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]");
        settings.bind(|| insta::assert_snapshot!(xml));
    }
}
