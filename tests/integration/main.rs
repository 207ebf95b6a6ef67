//! The one integration test binary: drives the compiled `s3plan` binary (and the sandbox over HTTP).

mod apply;
mod apply_support;
mod plan_cmd;
mod refusals;
mod report_agrees;
mod report_shape;
mod report_spool;
mod reports_by_target;
mod validate;

use assert_cmd::Command;

#[test]
fn help_names_the_subcommands() {
    let output = Command::cargo_bin("s3plan")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("validate"), "{text}");
}

mod bad_answers;
mod decision;
mod dry_run_gates;
mod faults;
mod hardening;
mod hostile;
mod incident;
mod journal;
mod journal_failure;
mod operator_ux;
mod operator_ux_more;
mod operator_ux_record;
mod operator_ux_review;
mod progress_more;
mod sandbox_auth;
mod sandbox_cli;
mod sandbox_error_table;
mod sandbox_errors;
mod sandbox_fidelity;
mod sandbox_knobs;
mod sandbox_lifecycle;
mod sandbox_ops;
mod sandbox_progress;
mod sandbox_regions;
mod sandbox_support;
mod saved_sweep;
mod support;
mod targets;
mod targets_incident;
mod targets_records;
mod task_gates;
mod throttling;
mod torn_journal;
