//! `s3plan validate` and `s3plan schema` through the binary: the examples, the broken-plan corpus
//! (snapshots pin file:line:column, message and help), JSON output, and hostile files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `s3plan` run from `dir` with the shared clean environment (no colour, fixed width).
fn s3plan(dir: &Path) -> Command {
    Command::from_std(crate::support::s3plan(dir))
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn validate(dir: &Path, args: &[&str]) -> Run {
    let output = s3plan(dir).arg("validate").args(args).output().unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn json(dir: &Path, file: &str) -> (i32, Vec<Value>) {
    let run = validate(dir, &["--format", "json", file]);
    let value: Value = serde_json::from_str(&run.stdout).unwrap();
    (run.code, value.as_array().unwrap().clone())
}

fn codes(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            r["code"]
                .as_str()
                .unwrap()
                .trim_start_matches("s3plan::plan::")
                .to_owned()
        })
        .collect()
}

#[test]
fn every_example_is_valid_and_has_the_schema_modeline() {
    let examples = yaml_files(&root().join("examples"));
    assert!(examples.len() >= 3, "{examples:?}");
    for example in &examples {
        let text = std::fs::read_to_string(example).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/plan.schema.json\n"),
            "{} lacks the modeline",
            example.display()
        );
        let run = validate(&root(), &[example.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}: {}", example.display(), run.stderr);
        assert!(run.stderr.contains("valid: "), "{}", run.stderr);
    }
}

#[test]
fn committed_schema_matches_the_generated_one() {
    let output = s3plan(&root()).arg("schema").output().unwrap();
    assert!(output.status.success());
    let generated = String::from_utf8(output.stdout).unwrap();
    let committed = std::fs::read_to_string(root().join("schemas/plan.schema.json")).unwrap();
    assert!(
        generated == committed,
        "schemas/plan.schema.json is stale; run `cargo run -- schema > schemas/plan.schema.json`"
    );
    let schema: Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["additionalProperties"], false);
}

/// Each broken plan of the corpus with the diagnostics it must give, in order, as `code@line` (the code
/// without its `s3plan::plan::` prefix). Reviewed by hand against each file.
const BROKEN: &[(&str, &[&str])] = &[
    ("bad-account-id.yaml", &["invalid_account_id@2"]),
    ("bad-duration.yaml", &["invalid_duration@2"]),
    ("bad-glob.yaml", &["invalid_pattern@4"]),
    ("bad-job-id.yaml", &["invalid_job_id@4"]),
    ("bad-regex.yaml", &["invalid_pattern@4"]),
    ("bad-timestamp.yaml", &["invalid_timestamp@4"]),
    ("conflicting-targets.yaml", &["conflicting_targets@7"]),
    ("cycle.yaml", &["cycle@5"]),
    ("duplicate-key.yaml", &["duplicate_key@6"]),
    ("duplicate-names.yaml", &["duplicate_name@6"]),
    (
        "duration-out-of-range.yaml",
        &["out_of_range@2", "out_of_range@6"],
    ),
    ("empty-jobs.yaml", &["no_entries@2"]),
    ("empty-priority-range.yaml", &["empty_priority_range@4"]),
    ("empty-status-list.yaml", &["empty_list@5"]),
    ("empty-time-range.yaml", &["empty_time_range@5"]),
    ("entry-unknown-target.yaml", &["unknown_target@11"]),
    ("gate-job-without-target.yaml", &["job_id_targets@13"]),
    (
        "gate-target-without-job.yaml",
        &["gate_target_without_job@13"],
    ),
    ("gate-unknown-target.yaml", &["unknown_target@13"]),
    ("invalid-name.yaml", &["invalid_name@3"]),
    ("job-id-in-several-targets.yaml", &["job_id_targets@11"]),
    (
        "limits-out-of-range.yaml",
        &["out_of_range@3", "out_of_range@4", "out_of_range@5"],
    ),
    (
        "many-mixed-mistakes.yaml",
        &[
            "wrong_type@2",
            "reason_length@3",
            "out_of_range@4",
            "wrong_type@6",
            "unknown_key@10",
            "unknown_value@11",
            "invalid_name@12",
            "unknown_after@14",
            "selector_without_filter@17",
            "missing_key@19",
        ],
    ),
    (
        "many-semantic-mistakes.yaml",
        &[
            "unsupported_version@1",
            "reason_length@2",
            "out_of_range@3",
            "out_of_range@5",
            "invalid_name@7",
            "pointless_gate@9",
            "conflicting_targets@12",
            "cycle@14",
            "unknown_after@14",
            "duplicate_name@15",
            "selector_without_filter@16",
            "out_of_range@18",
            "no_action@19",
            "max_jobs_without_select@22",
        ],
    ),
    (
        "many-structural-mistakes.yaml",
        &[
            "wrong_type@2",
            "unknown_key@3",
            "wrong_type@5",
            "invalid_job_id@8",
            "unknown_value@9",
            "unknown_value@10",
            "duplicate_key@11",
            "missing_key@12",
            "wrong_type@12",
            "unknown_key@13",
        ],
    ),
    (
        "many-target-mistakes.yaml",
        &[
            "place_beside_targets@2",
            "duplicate_region@9",
            "role_arn_account@11",
            "several_credentials@11",
            "duplicate_target_name@12",
            "invalid_target_name@15",
            "duplicate_target_place@17",
            "target_regions@18",
            "empty_list@20",
            "unknown_target@23",
            "job_id_targets@27",
            "job_id_targets@28",
            "gate_target_without_job@33",
        ],
    ),
    (
        "max-jobs-without-select.yaml",
        &["max_jobs_without_select@5"],
    ),
    ("missing-name.yaml", &["missing_key@3"]),
    ("missing-version.yaml", &["missing_key@1"]),
    ("misspelled-status.yaml", &["unknown_value@5"]),
    ("multiple-documents.yaml", &["multiple_documents@6"]),
    (
        "names-beside-structural-mistakes.yaml",
        &[
            "duplicate_name@6",
            "unknown_key@8",
            "unknown_after@12",
            "wrong_type@13",
        ],
    ),
    ("no-action.yaml", &["no_action@3"]),
    ("no-job-set.yaml", &["no_job_set@3"]),
    ("not-a-map.yaml", &["not_a_map@1"]),
    ("priority-out-of-range.yaml", &["out_of_range@5"]),
    ("reason-too-long.yaml", &["reason_length@2"]),
    (
        "selector-all-with-filters.yaml",
        &["selector_all_with_filters@4"],
    ),
    (
        "selector-without-filter.yaml",
        &["selector_without_filter@4"],
    ),
    ("set-misspelled.yaml", &["unknown_value@5"]),
    ("set-not-a-target.yaml", &["unknown_value@5"]),
    (
        "several-job-sets-block-select.yaml",
        &["several_job_sets@5"],
    ),
    ("several-job-sets.yaml", &["several_job_sets@5"]),
    ("tag-too-long.yaml", &["tag_key_length@7"]),
    ("target-duplicate-name.yaml", &["duplicate_target_name@6"]),
    ("target-duplicate-region.yaml", &["duplicate_region@11"]),
    ("target-invalid-name.yaml", &["invalid_target_name@9"]),
    ("target-invalid-region.yaml", &["invalid_region@11"]),
    ("target-invalid-role-arn.yaml", &["invalid_role_arn@12"]),
    ("target-profile-and-role.yaml", &["several_credentials@13"]),
    ("target-region-and-regions.yaml", &["target_regions@12"]),
    (
        "target-role-in-another-account.yaml",
        &["role_arn_account@12"],
    ),
    (
        "target-same-account-and-region.yaml",
        &["duplicate_target_place@11"],
    ),
    ("target-without-region.yaml", &["target_regions@9"]),
    (
        "targets-beside-account-and-region.yaml",
        &["place_beside_targets@2", "place_beside_targets@3"],
    ),
    (
        "targets-without-plan-targets.yaml",
        &[
            "targets_without_plan_targets@4",
            "targets_without_plan_targets@9",
        ],
    ),
    ("unitless-duration.yaml", &["wrong_type@2"]),
    ("unknown-after.yaml", &["unknown_after@8"]),
    ("unknown-entry-key.yaml", &["unknown_key@5"]),
    ("unknown-operation.yaml", &["unknown_value@4"]),
    ("unknown-top-key.yaml", &["unknown_key@2"]),
    ("unquoted-account-id.yaml", &["wrong_type@2"]),
    ("unsupported-version.yaml", &["unsupported_version@1"]),
    ("wrong-type.yaml", &["wrong_type@3"]),
    ("yaml-syntax.yaml", &["syntax@5"]),
    ("yes-is-not-a-boolean.yaml", &["wrong_type@4"]),
];

#[test]
fn every_broken_plan_gives_its_own_diagnostics() {
    let dir = root().join("tests/plans/invalid");
    let files: Vec<String> = yaml_files(&dir)
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    let listed: Vec<&str> = BROKEN.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        files, listed,
        "every file of the corpus has its expected diagnostics here"
    );
    insta::glob!("../plans/invalid", "*.yaml", |path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        let (_, expected) = BROKEN
            .iter()
            .find(|(file, _)| *file == name)
            .unwrap_or_else(|| panic!("{name} has no expected diagnostics"));
        let (code, records) = json(&dir, name);
        assert_eq!(code, 2, "{name} should be invalid");
        let got: Vec<String> = codes(&records)
            .into_iter()
            .zip(&records)
            .map(|(code, r)| format!("{code}@{}", r["line"]))
            .collect();
        assert_eq!(got, *expected, "{name}");
        // The human rendering: file:line:column, message, label and help.
        let run = validate(&dir, &[name]);
        assert_eq!(run.code, 2, "{name} should be invalid:\n{}", run.stderr);
        assert!(run.stdout.is_empty(), "{name}: {}", run.stdout);
        insta::assert_snapshot!(run.stderr);
    });
}

#[test]
fn warnings_are_printed_but_do_not_fail() {
    let dir = root().join("tests/plans/warnings");
    let run = validate(&dir, &["pointless-gate.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("warnings__pointless-gate", run.stderr);
    let (code, records) = json(&dir, "pointless-gate.yaml");
    assert_eq!(code, 0);
    assert!(
        records.iter().all(|r| r["severity"] == "warning"),
        "{records:?}"
    );
    assert_eq!(records.len(), 2, "{records:?}");
}

#[test]
fn all_semantic_mistakes_of_a_file_are_reported_in_one_run() {
    let dir = root().join("tests/plans/invalid");
    let (code, records) = json(&dir, "many-semantic-mistakes.yaml");
    assert_eq!(code, 2);
    let lines: Vec<u64> = records
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "diagnostics are not in file order");
    let mut found = codes(&records);
    found.sort();
    let mut expected = vec![
        "unsupported_version",
        "reason_length",
        "out_of_range",
        "out_of_range",
        "invalid_name",
        "pointless_gate",
        "conflicting_targets",
        "cycle",
        "unknown_after",
        "duplicate_name",
        "selector_without_filter",
        "out_of_range",
        "no_action",
        "max_jobs_without_select",
    ];
    expected.sort_unstable();
    assert_eq!(found, expected);
}

#[test]
fn all_target_mistakes_of_a_file_are_reported_in_one_run() {
    let dir = root().join("tests/plans/invalid");
    let (code, records) = json(&dir, "many-target-mistakes.yaml");
    assert_eq!(code, 2);
    let mut found = codes(&records);
    found.sort();
    let mut expected = vec![
        "place_beside_targets",
        "duplicate_region",
        "role_arn_account",
        "several_credentials",
        "duplicate_target_name",
        "invalid_target_name",
        "duplicate_target_place",
        "target_regions",
        "empty_list",
        "unknown_target",
        "job_id_targets",
        "job_id_targets",
        "gate_target_without_job",
    ];
    expected.sort_unstable();
    assert_eq!(found, expected);
    let unknown = records
        .iter()
        .find(|r| r["code"] == "s3plan::plan::unknown_target")
        .unwrap();
    assert_eq!(
        unknown["help"],
        "did you mean `prod-us`? known targets: prod-us, dr, dr/us-east-1, dr/us-west-2, Legacy"
    );
}

#[test]
fn all_structural_mistakes_of_a_file_are_reported_in_one_run() {
    let dir = root().join("tests/plans/invalid");
    let (code, records) = json(&dir, "many-structural-mistakes.yaml");
    assert_eq!(code, 2);
    let found = codes(&records);
    assert_eq!(
        found,
        [
            "wrong_type",
            "unknown_key",
            "wrong_type",
            "invalid_job_id",
            "unknown_value",
            "unknown_value",
            "duplicate_key",
            "missing_key",
            "wrong_type",
            "unknown_key",
        ]
    );
    let first = &records[0];
    assert_eq!(first["file"], "many-structural-mistakes.yaml");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(2), Some(13))
    );
    assert_eq!(first["severity"], "error");
    assert!(first["help"].as_str().unwrap().contains("quote"), "{first}");
}

#[test]
fn structural_and_semantic_mistakes_are_reported_together() {
    let dir = root().join("tests/plans/invalid");
    let (code, records) = json(&dir, "many-mixed-mistakes.yaml");
    assert_eq!(code, 2);
    let found: Vec<(u64, String)> = records
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .zip(codes(&records))
        .collect();
    let expected = [
        (2, "wrong_type"),
        (3, "reason_length"),
        (4, "out_of_range"),
        (6, "wrong_type"),
        (10, "unknown_key"),
        (11, "unknown_value"),
        (12, "invalid_name"),
        (14, "unknown_after"),
        (17, "selector_without_filter"),
        (19, "missing_key"),
    ];
    let expected: Vec<(u64, String)> = expected
        .iter()
        .map(|(line, code)| (*line, (*code).to_owned()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn json_output_names_file_line_column_code_message_and_help() {
    let dir = root().join("tests/plans/invalid");
    let (code, records) = json(&dir, "set-misspelled.yaml");
    assert_eq!(code, 2);
    insta::assert_json_snapshot!("json__set-misspelled", records);
}

#[test]
fn several_files_in_one_run_report_each_and_fail_if_any_is_invalid() {
    let run = validate(
        &root(),
        &[
            "examples/release-runbook.yaml",
            "tests/plans/invalid/cycle.yaml",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("valid: examples/release-runbook.yaml"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("invalid: tests/plans/invalid/cycle.yaml (1 error)"),
        "{}",
        run.stderr
    );
}

/// Writes `bytes` to a temp file and validates it; the message must be one clear diagnostic.
fn hostile(name: &str, bytes: &[u8]) -> (i32, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), bytes).unwrap();
    json(dir.path(), name)
}

fn single(records: &[Value]) -> (&str, &str) {
    assert_eq!(records.len(), 1, "{records:?}");
    (
        records[0]["code"].as_str().unwrap(),
        records[0]["message"].as_str().unwrap(),
    )
}

#[test]
fn empty_and_comment_only_files_are_refused() {
    for text in ["", "\n\n  \n", "# a plan, some day\n"] {
        let (code, records) = hostile("empty.yaml", text.as_bytes());
        assert_eq!(code, 2);
        assert_eq!(
            single(&records),
            ("s3plan::plan::empty", "the plan is empty")
        );
    }
}

#[test]
fn non_utf8_file_is_refused_with_the_offset() {
    let (code, records) = hostile("latin1.yaml", b"version: 1\nreason: caf\xe9\n");
    assert_eq!(code, 2);
    let (kind, message) = single(&records);
    assert_eq!(kind, "s3plan::plan::not_utf8");
    assert!(message.contains("byte offset 22"), "{message}");
}

#[test]
fn binary_file_is_refused() {
    let bytes: Vec<u8> = b"\x7fELF\x02\x01\x01\x00".repeat(1000);
    let (code, records) = hostile("a.out", &bytes);
    assert_eq!(code, 2);
    assert_eq!(single(&records).0, "s3plan::plan::binary");
}

#[test]
fn fifty_megabyte_file_is_refused_before_parsing() {
    let line = "  - { name: n, job_id: \"3f6c2e1a-8b4d-4c2e-9f1a-2b7d6e5c4a01\", set: Ready }\n";
    let mut text = String::from("version: 1\njobs:\n");
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(line);
    }
    let (code, records) = hostile("huge.yaml", text.as_bytes());
    assert_eq!(code, 2);
    let (kind, message) = single(&records);
    assert_eq!(kind, "s3plan::plan::file_too_large");
    assert!(message.contains("over 10 MiB"), "{message}");
}

#[test]
fn deep_nesting_is_refused() {
    let flow = format!(
        "version: 1\njobs: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let block: String = (1..2000)
        .map(|i| format!("{}- \n", "  ".repeat(i)))
        .collect();
    for text in [flow, format!("version: 1\njobs:\n{block}")] {
        let (code, records) = hostile("deep.yaml", text.as_bytes());
        assert_eq!(code, 2);
        let (kind, message) = single(&records);
        assert_eq!(kind, "s3plan::plan::too_complex");
        assert!(message.contains("nest deeper than 32 levels"), "{message}");
    }
}

#[test]
fn billion_laughs_is_refused() {
    let mut text =
        String::from("version: 1\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(", ");
        text.push_str(&format!("{}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    text.push_str("jobs: *i\n");
    let (code, records) = hostile("lol.yaml", text.as_bytes());
    assert_eq!(code, 2);
    let (kind, message) = single(&records);
    assert_eq!(kind, "s3plan::plan::too_complex");
    assert!(message.contains("alias"), "{message}");
}

#[test]
fn missing_file_is_reported_not_panicked() {
    let run = validate(&root(), &["no/such/plan.yaml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot read the plan"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("invalid: no/such/plan.yaml"),
        "{}",
        run.stderr
    );
}
