//! `s3plan report JOURNAL` renders the same report as the run's own `--report FILE.json`: the same keys at
//! the top, in each job row (the `error` object included) and in the summary (zeros included).

use std::collections::BTreeSet;

use s3plan::sandbox::{FaultAction, Operation, ScriptedFault};
use serde_json::Value;

use crate::journal::{apply, journal_path, plan, report, seed};
use crate::support::{frozen, s3plan};

/// Every key path in `value` (`jobs[].error.code`), arrays folded into one element.
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{prefix}.{key}");
                out.insert(path.clone());
                key_paths(child, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                key_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    key_paths(value, "", &mut out);
    out
}

/// A run with one applied and one refused job: the report rebuilt from its journal has the run's keys (job
/// rows, the `error` object, the summary with its zeros) and the same failed job and summary counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_of_a_journal_has_the_keys_of_the_runs_own_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(3), None).await;
    // One refused request, so a row carries the `error` object in both reports.
    sandbox.script(
        ScriptedFault::new(
            Some(Operation::UpdateJobStatus),
            FaultAction::error("AccessDenied", 403),
        )
        .on_call(2)
        .times(1),
    );
    let plan = plan(dir.path(), 50, 1);
    let output = apply(dir.path(), &plan, &sandbox.url(), &[])
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "one job is refused: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let own = report(&dir.path().join("report.json"));
    let output = s3plan(dir.path())
        .arg("report")
        .arg(journal_path(dir.path()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rebuilt: Value = serde_json::from_slice(&output.stdout).unwrap();

    let failed = |report: &Value| {
        report["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["outcome"] == "failed")
            .map(|j| (j["job_id"].clone(), j["error"]["code"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(failed(&rebuilt), failed(&own), "{rebuilt:#}");
    assert_eq!(failed(&own).len(), 1, "{own:#}");
    assert_eq!(rebuilt["summary"], own["summary"], "{rebuilt:#}");

    let names = |value: &Value| -> BTreeSet<String> {
        value
            .as_object()
            .map_or_else(BTreeSet::new, |o| o.keys().cloned().collect())
    };
    let rows = |report: &Value| -> BTreeSet<BTreeSet<String>> {
        report["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(names)
            .collect()
    };
    assert_eq!(rows(&rebuilt), rows(&own), "one shape of job row");
    assert_eq!(rows(&own).len(), 1, "every row has the same keys");
    assert_eq!(names(&rebuilt["summary"]), names(&own["summary"]));
    let error_of = |report: &Value| {
        let jobs = report["jobs"].as_array().unwrap();
        names(&jobs.iter().find(|j| j["outcome"] == "failed").unwrap()["error"])
    };
    assert_eq!(error_of(&rebuilt), error_of(&own));
    // At the top, the rebuilt report adds what only a journal tells.
    let mut top = names(&own);
    top.extend(["journal".to_owned(), "unanswered".to_owned()]);
    assert_eq!(names(&rebuilt), top);
    // Deeper, the journal lacks only the task counters (never written to it): `tasks` is null there.
    let missing: BTreeSet<String> = keys(&own).difference(&keys(&rebuilt)).cloned().collect();
    assert!(
        missing.iter().all(|k| k.starts_with(".jobs[].tasks.")),
        "{missing:?}"
    );

    let md = s3plan(dir.path())
        .arg("report")
        .arg(journal_path(dir.path()))
        .args(["--format", "md"])
        .output()
        .unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(
        md.starts_with("# s3plan apply: "),
        "the run's Markdown layout: {md}"
    );
    assert!(md.contains("AccessDenied"), "{md}");
}
