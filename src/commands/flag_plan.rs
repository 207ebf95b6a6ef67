//! Plans written from command-line flags: `cancel`, `confirm` and `jobs` turn their job ids or selector
//! flags into the text of a one-entry YAML plan, which then goes through the same loader, validator and
//! resolver as a plan file, so a flag means exactly what the same key of `select:` means.
//!
//! Owns the flag value parsers (clap calls them for early, precise usage errors; the plan validator stays
//! the authority) and the YAML writer. Does not run anything (`apply.rs` does) or talk to the API.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use crate::api::{JobId, JobStatus, TargetStatus};
use crate::cli::{ConnectArgs, SelectArgs};
use crate::errors::CommandError;
use crate::plan;
use crate::plan::TargetSpec;
use crate::plan::model::{DescriptionPattern, OperationName};

/// `--priority MIN..MAX`: either bound may be missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityBounds {
    /// Lowest priority matched.
    pub min: Option<i64>,
    /// Highest priority matched.
    pub max: Option<i64>,
}

/// A one-entry plan to write from flags.
pub(crate) struct FlagPlan<'a> {
    /// The entry's name (`cancel`, `confirm`, `jobs`).
    pub name: &'a str,
    /// The status to set; `None` for a plan only looked at (`jobs`), never run.
    pub set: Option<TargetStatus>,
    /// Jobs by id; when empty, `select` decides.
    pub ids: &'a [JobId],
    /// The selector flags.
    pub select: &'a SelectArgs,
    /// The plan's `reason`.
    pub reason: Option<&'a str>,
    /// The entry's `max_jobs` (written for selectors only: the validator refuses it beside ids).
    pub max_jobs: Option<u32>,
    /// `wait_for: Suspended`, with its timeout when given.
    pub wait: Option<Option<Duration>>,
    /// Account and region pins, and the limits for a saved plan.
    pub connect: &'a ConnectArgs,
    /// The targets of `--targets-from`, and the `--target` names the entry runs in.
    pub targets: Option<&'a FlagTargets>,
}

/// `--targets-from PLAN` read: the plan's `targets:` as written, and the `--target` names given.
#[derive(Debug)]
pub(crate) struct FlagTargets {
    /// The plan they come from (named in the saved plan's comment).
    pub path: PathBuf,
    /// Its `targets:`, in plan order.
    pub specs: Vec<TargetSpec>,
    /// `--target` names (known to be target or group names of `specs`); empty means every target.
    pub names: Vec<String>,
}

/// The targets `--targets-from` and `--target` name for `command` (`jobs`, `cancel`, `confirm`), or none.
/// The plan is loaded and validated like any plan: one with mistakes is refused with its diagnostics, one
/// without `targets:` (which would mean "the account and region of the flags or the chain") is refused, and
/// so is a `--target` naming no target of it. `ids`: the command acts on job ids, which live in one target
/// each, so exactly one target must be named. `--target` without `--targets-from` is refused: these commands
/// have no plan of their own to take targets from.
pub(crate) fn flag_targets(
    command: &str,
    targets_from: Option<&Path>,
    connect: &ConnectArgs,
    ids: bool,
) -> Result<Option<FlagTargets>, CommandError> {
    let Some(path) = targets_from else {
        if connect.targets.is_empty() {
            return Ok(None);
        }
        return Err(CommandError::refused(
            format!(
                "--target {} needs --targets-from PLAN: `s3plan {command}` has no plan of its own to take targets from; nothing was changed",
                connect.targets.join(", ")
            ),
            format!(
                "name the plan whose `targets:` to use: s3plan {command} --targets-from PLAN --target {} ...",
                connect.targets.join(" --target ")
            ),
        ));
    };
    for (flag, given) in [
        ("--account-id", connect.account_id.is_some()),
        ("--region", connect.region.is_some()),
    ] {
        if given {
            return Err(CommandError::refused(
                format!(
                    "{flag} cannot be used with --targets-from (each target names its account and region); nothing was changed"
                ),
                "drop the flag; to look or act in some targets only, pass --target NAME (repeatable)",
            ));
        }
    }
    let loaded = plan::load(path).map_err(Box::new)?;
    let Some(specs) = &loaded.plan.targets else {
        return Err(CommandError::refused(
            format!(
                "{} has no `targets:` to take; nothing was changed",
                path.display()
            ),
            "give a plan that lists its places under `targets:` (docs/plan.md, Targets), or drop --targets-from and use --account-id/--region",
        ));
    };
    let all = loaded.plan.targets();
    let names_of = |indexes: &[usize]| -> String {
        indexes
            .iter()
            .filter_map(|&i| all.get(i))
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let selected = loaded
        .plan
        .select_targets(&connect.targets)
        .map_err(|unknown| {
            CommandError::refused(
                format!(
                    "--target {} names no target of {}; nothing was changed",
                    unknown.join(", "),
                    path.display()
                ),
                format!(
                    "its targets are: {}",
                    names_of(&(0..all.len()).collect::<Vec<_>>())
                ),
            )
        })?;
    let chosen = if connect.targets.is_empty() {
        (0..all.len()).collect()
    } else {
        selected
    };
    if ids && chosen.len() != 1 {
        return Err(CommandError::refused(
            format!(
                "job ids name jobs in one target, but the command runs in {} ({}); nothing was changed",
                crate::text::plural(chosen.len(), "target"),
                names_of(&chosen)
            ),
            format!(
                "name the job's target with --target NAME (find it with `s3plan jobs JOB_ID --targets-from {}`), or select the jobs with flags instead of ids",
                path.display()
            ),
        ));
    }
    Ok(Some(FlagTargets {
        path: path.to_owned(),
        specs: specs.value.iter().map(|spec| spec.value.clone()).collect(),
        names: connect.targets.clone(),
    }))
}

/// The plan's `targets:` list, written back as YAML (every key a spec can have, values quoted).
fn targets_text(specs: &[TargetSpec]) -> String {
    let mut out = String::from("targets:\n");
    for spec in specs {
        let _ = writeln!(out, "  - name: {}", quoted(&spec.name.value));
        let _ = writeln!(
            out,
            "    account_id: {}",
            quoted(spec.account_id.value.as_str())
        );
        match (&spec.region, &spec.regions) {
            (Some(region), _) => {
                let _ = writeln!(out, "    region: {}", quoted(&region.value));
            }
            (None, Some(regions)) => {
                let list: Vec<String> = regions.value.iter().map(|r| quoted(&r.value)).collect();
                let _ = writeln!(out, "    regions: [{}]", list.join(", "));
            }
            (None, None) => {}
        }
        if let Some(profile) = &spec.profile {
            let _ = writeln!(out, "    profile: {}", quoted(&profile.value));
        }
        if let Some(role_arn) = &spec.role_arn {
            let _ = writeln!(out, "    role_arn: {}", quoted(&role_arn.value));
        }
    }
    out
}

impl FlagPlan<'_> {
    /// The plan text the command runs. It depends only on what decides which jobs change and how (not on
    /// limits, reports or output), so a rerun with `--resume` and the same job flags finds the same plan.
    pub fn body(&self) -> String {
        self.write(false)
    }

    /// The plan `--save-plan` writes: `command_line` as a comment, then the body with the limits given
    /// as flags, so applying the file does what the command did.
    pub fn saved(&self, command_line: &str) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "# Written by: {}", command_line.replace('\n', " "));
        if let Some(targets) = self.targets {
            let _ = writeln!(
                text,
                "# Targets from: {}",
                targets.path.display().to_string().replace('\n', " ")
            );
        }
        let _ = writeln!(
            text,
            "# Review it, then run it with `s3plan apply` (add --dry-run to rehearse)."
        );
        text.push_str(&self.write(true));
        text
    }

    fn write(&self, with_limits: bool) -> String {
        let mut out = String::from("version: 1\n");
        if let Some(account) = &self.connect.account_id {
            let _ = writeln!(out, "account_id: {}", quoted(account.trim()));
        }
        if let Some(region) = &self.connect.region {
            let _ = writeln!(out, "region: {}", quoted(region));
        }
        if let Some(targets) = self.targets {
            out.push_str(&targets_text(&targets.specs));
        }
        if let Some(reason) = self.reason {
            let _ = writeln!(out, "reason: {}", quoted(reason));
        }
        if with_limits {
            let limits: Vec<String> = [
                (
                    "concurrency",
                    self.connect.concurrency.map(|c| c.to_string()),
                ),
                ("rate_limit", self.connect.rate_limit.map(|r| r.to_string())),
                (
                    "poll_rate_limit",
                    self.connect.poll_rate_limit.map(|r| r.to_string()),
                ),
            ]
            .into_iter()
            .filter_map(|(key, value)| value.map(|v| format!("{key}: {v}")))
            .collect();
            if !limits.is_empty() {
                let _ = writeln!(out, "limits: {{ {} }}", limits.join(", "));
            }
            if let Some(every) = self.connect.poll_interval {
                let _ = writeln!(
                    out,
                    "poll_interval: {}",
                    quoted(&humantime::format_duration(every).to_string())
                );
            }
        }
        out.push_str("jobs:\n");
        let _ = writeln!(out, "  - name: {}", self.name);
        // `--target` is written into the entry too, so the saved plan acts where the command did.
        if let Some(targets) = self.targets.filter(|t| !t.names.is_empty()) {
            let names: Vec<String> = targets.names.iter().map(|n| quoted(n)).collect();
            let _ = writeln!(out, "    targets: [{}]", names.join(", "));
        }
        if self.ids.is_empty() {
            out.push_str("    select:\n");
            out.push_str(&selector(self.select));
            if let Some(max_jobs) = self.max_jobs {
                let _ = writeln!(out, "    max_jobs: {max_jobs}");
            }
        } else {
            let ids: Vec<String> = self.ids.iter().map(|id| quoted(id.as_str())).collect();
            let _ = writeln!(out, "    job_ids: [{}]", ids.join(", "));
        }
        match self.wait {
            Some(Some(timeout)) => {
                let _ = writeln!(
                    out,
                    "    wait_for: {{ status: Suspended, timeout: {} }}",
                    quoted(&humantime::format_duration(timeout).to_string())
                );
            }
            Some(None) => out.push_str("    wait_for: Suspended\n"),
            None => {}
        }
        match self.set {
            Some(status) => {
                let _ = writeln!(out, "    set: {status}");
            }
            // A plan needs an action to be valid; this one is only looked at (its selector), never run.
            None => out.push_str("    set: Cancelled\n"),
        }
        out
    }
}

/// The `select:` mapping of the flags, indented under an entry; `all: true` when no flag is given.
fn selector(select: &SelectArgs) -> String {
    let mut out = String::new();
    if !select.is_given() {
        out.push_str("      all: true\n");
        return out;
    }
    if !select.status.is_empty() {
        let mut statuses: Vec<&str> = Vec::new();
        for status in &select.status {
            if !statuses.contains(&status.as_str()) {
                statuses.push(status.as_str());
            }
        }
        let _ = writeln!(out, "      status: [{}]", statuses.join(", "));
    }
    if let Some(description) = &select.description {
        let _ = writeln!(out, "      description: {}", quoted(description));
    }
    if let Some(after) = &select.created_after {
        let _ = writeln!(out, "      created_after: {}", quoted(&after.to_string()));
    }
    if let Some(before) = &select.created_before {
        let _ = writeln!(out, "      created_before: {}", quoted(&before.to_string()));
    }
    if !select.operation.is_empty() {
        let mut operations: Vec<&str> = Vec::new();
        for operation in &select.operation {
            if !operations.contains(&operation.as_str()) {
                operations.push(operation.as_str());
            }
        }
        let _ = writeln!(out, "      operation: [{}]", operations.join(", "));
    }
    if let Some(bounds) = &select.priority {
        let mut parts = Vec::new();
        if let Some(min) = bounds.min {
            parts.push(format!("min: {min}"));
        }
        if let Some(max) = bounds.max {
            parts.push(format!("max: {max}"));
        }
        let _ = writeln!(out, "      priority: {{ {} }}", parts.join(", "));
    }
    if !select.tag.is_empty() {
        let tags: Vec<String> = select
            .tag
            .iter()
            .map(|(key, value)| format!("{}: {}", quoted(key), quoted(value)))
            .collect();
        let _ = writeln!(out, "      tags: {{ {} }}", tags.join(", "));
    }
    out
}

/// A YAML double-quoted scalar. JSON string syntax is a subset of it, so serde_json's escaping is exact.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// `--status`: a job status as the API spells it.
pub fn parse_status(text: &str) -> Result<JobStatus, String> {
    text.trim().parse::<JobStatus>().map_err(|_| {
        let all: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("`{text}` is not a job status; one of {}", all.join(", "))
    })
}

/// `--description`: a glob, or `regex:` and a regex.
pub fn parse_description(text: &str) -> Result<String, String> {
    DescriptionPattern::check(text)?;
    Ok(text.to_owned())
}

/// `--created-after`/`--created-before`: an RFC 3339 time, or a duration ago (`2h`, `30m`).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(time) = text.parse::<Timestamp>() {
        return Ok(time);
    }
    let ago = humantime::parse_duration(text).map_err(|_| {
        format!(
            "`{text}` is neither an RFC 3339 time (2026-11-29T10:00:00Z) nor a duration ago (2h)"
        )
    })?;
    let ago = jiff::SignedDuration::try_from(ago).map_err(|e| e.to_string())?;
    Timestamp::now()
        .checked_sub(ago)
        .map_err(|_| format!("`{text}` ago is before the earliest time there is"))
}

/// `--operation`: an operation name as the API spells it.
pub fn parse_operation(text: &str) -> Result<OperationName, String> {
    serde_json::from_value::<OperationName>(serde_json::Value::String(text.trim().to_owned()))
        .map_err(|_| format!("`{text}` is not an operation: e.g. LambdaInvoke, S3PutObjectCopy, S3PutObjectTagging"))
}

/// `--priority`: `MIN..MAX`, `MIN..`, `..MAX` or `N`.
pub fn parse_priority(text: &str) -> Result<PriorityBounds, String> {
    let bound = |part: &str| -> Result<Option<i64>, String> {
        let part = part.trim();
        if part.is_empty() {
            return Ok(None);
        }
        let value: i64 = part
            .parse()
            .map_err(|_| format!("`{part}` is not a whole number"))?;
        if !(0..=i64::from(i32::MAX)).contains(&value) {
            return Err(format!("priority {value} is outside 0..{}", i32::MAX));
        }
        Ok(Some(value))
    };
    let bounds = match text.split_once("..") {
        Some((min, max)) => PriorityBounds {
            min: bound(min)?,
            max: bound(max)?,
        },
        None => {
            let exact = bound(text)?;
            PriorityBounds {
                min: exact,
                max: exact,
            }
        }
    };
    match bounds {
        PriorityBounds {
            min: None,
            max: None,
        } => Err("give at least one bound: MIN..MAX, MIN.. or ..MAX".to_owned()),
        PriorityBounds {
            min: Some(min),
            max: Some(max),
        } if min > max => Err(format!("the minimum {min} is above the maximum {max}")),
        _ => Ok(bounds),
    }
}

/// `--tag`: `KEY=VALUE`.
pub fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// A job id argument.
pub fn parse_job_id(text: &str) -> Result<JobId, String> {
    JobId::parse(text.trim()).map_err(|e| e.to_string())
}

/// The command line as typed, quoted for a shell, for the plan's name and the saved plan's comment.
pub(crate) fn command_line() -> String {
    let mut words = vec!["s3plan".to_owned()];
    words.extend(
        std::env::args_os()
            .skip(1)
            .map(|arg| shell_quoted(&arg.to_string_lossy())),
    );
    words.join(" ")
}

/// The command line as typed with `--resume JOURNAL` in place of any earlier `--resume`: the exact command
/// that continues an interrupted run (same plan, account, region, endpoint and reports).
pub(crate) fn resume_command_line(journal: &std::path::Path) -> String {
    let mut words = vec!["s3plan".to_owned()];
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy();
        if arg == "--resume" {
            args.next();
            continue;
        }
        if arg.starts_with("--resume=") {
            continue;
        }
        words.push(shell_quoted(&arg));
    }
    words.push("--resume".to_owned());
    words.push(shell_quoted(&journal.to_string_lossy()));
    words.join(" ")
}

fn shell_quoted(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn act(args: &[&str]) -> crate::cli::ActArgs {
        let mut argv = vec!["s3plan", "cancel"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Cancel(act) => act,
            other => panic!("{other:?}"),
        }
    }

    fn plan_of(act: &crate::cli::ActArgs) -> FlagPlan<'_> {
        FlagPlan {
            name: "cancel",
            set: Some(TargetStatus::Cancelled),
            ids: &act.ids,
            select: &act.select,
            reason: act.reason.as_deref(),
            max_jobs: Some(act.max_jobs),
            wait: None,
            connect: &act.run.connect,
            targets: None,
        }
    }

    #[test]
    fn every_selector_flag_becomes_the_same_select_key() {
        let act = act(&[
            "--status",
            "Active,Suspended",
            "--status",
            "Active",
            "--description",
            "regex:^re\"index-\\d+$",
            "--created-after",
            "2026-11-29T10:00:00Z",
            "--created-before",
            "2026-11-30T10:00:00Z",
            "--operation",
            "LambdaInvoke",
            "--priority",
            "10..",
            "--tag",
            "team=search",
            "--tag",
            "env=prod: eu",
            "--reason",
            "INC-2041: \"runaway\"",
            "--region",
            "eu-west-1",
        ]);
        let text = plan_of(&act).body();
        let loaded = plan::load_str("<flags>", &text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let entry = loaded.plan.entries().next().unwrap();
        let Some(crate::plan::model::JobSet::Select(selector)) = entry.job_set() else {
            panic!("{text}")
        };
        assert_eq!(
            selector.statuses(),
            [JobStatus::Active, JobStatus::Suspended]
        );
        let description = selector.description().unwrap();
        assert!(description.is_match("re\"index-42"), "{text}");
        assert!(!description.is_match("reindex-42"), "{text}");
        assert_eq!(
            selector.created_after.as_ref().unwrap().value.to_string(),
            "2026-11-29T10:00:00Z"
        );
        assert_eq!(selector.operations(), [OperationName::LambdaInvoke]);
        assert_eq!(selector.priority_bounds(), Some(10..=i32::MAX));
        assert_eq!(selector.tags(), [("env", "prod: eu"), ("team", "search")]);
        assert_eq!(entry.max_jobs(), 100);
        assert_eq!(loaded.plan.reason(), Some("INC-2041: \"runaway\""));
        assert_eq!(loaded.plan.region(), Some("eu-west-1"));
    }

    #[test]
    fn ids_become_job_ids_and_the_saved_plan_keeps_the_limits() {
        let act = act(&[
            "6513270e-269e-4d37-b2a7-4de452e6b438",
            "d23f0824-128b-4f33-8c5c-7fd0a6a3a450",
            "--rate-limit",
            "3",
            "--concurrency",
            "4",
        ]);
        let flags = plan_of(&act);
        let body = plan::load_str("<flags>", &flags.body()).unwrap();
        assert_eq!(
            body.plan.rate_limit(),
            crate::plan::model::DEFAULT_RATE_LIMIT
        );
        let saved_text = flags.saved("s3plan cancel x --rate-limit 3");
        let saved = plan::load_str("saved.yaml", &saved_text).unwrap();
        assert!(saved_text.contains("# Written by: s3plan cancel x --rate-limit 3"));
        assert_eq!(saved.plan.rate_limit(), 3.0);
        assert_eq!(saved.plan.concurrency(), 4);
        let entry = saved.plan.entries().next().unwrap();
        assert_eq!(
            entry.job_set(),
            Some(crate::plan::model::JobSet::Ids(act.ids.iter().collect()))
        );
    }

    #[test]
    fn confirm_wait_becomes_a_gate_on_suspended_with_its_timeout() {
        let act = act(&["6513270e-269e-4d37-b2a7-4de452e6b438"]);
        for (wait, timeout) in [
            (None, crate::plan::model::DEFAULT_TIMEOUT),
            (Some(Duration::from_secs(3600)), Duration::from_secs(3600)),
        ] {
            let flags = FlagPlan {
                name: "confirm",
                set: Some(TargetStatus::Ready),
                wait: Some(wait),
                ..plan_of(&act)
            };
            let loaded = plan::load_str("<flags>", &flags.body()).unwrap();
            let entry = loaded.plan.entries().next().unwrap();
            let gate = entry.gate(&loaded.plan).unwrap();
            assert_eq!(gate.statuses, [JobStatus::Suspended]);
            assert_eq!(gate.job, None);
            assert_eq!(gate.timeout, timeout);
            assert_eq!(entry.target(), Some(TargetStatus::Ready));
        }
    }

    #[test]
    fn no_selector_flag_selects_every_job() {
        let act = act(&["6513270e-269e-4d37-b2a7-4de452e6b438"]);
        let flags = FlagPlan {
            name: "jobs",
            set: None,
            ids: &[],
            ..plan_of(&act)
        };
        let loaded = plan::load_str("<flags>", &flags.body()).unwrap();
        let entry = loaded.plan.entries().next().unwrap();
        let Some(crate::plan::model::JobSet::Select(selector)) = entry.job_set() else {
            panic!()
        };
        assert!(!selector.has_filter());
    }

    #[test]
    fn targets_are_written_back_as_the_plan_has_them_and_target_runs_the_entry_there() {
        let source = r#"version: 1
targets:
  - name: prod
    account_id: "111122223333"
    regions: [us-east-1, eu-west-1]
  - name: dr
    account_id: "444455556666"
    region: us-west-2
    role_arn: arn:aws:iam::444455556666:role/s3plan-operator
  - name: eu
    account_id: "111122223333"
    region: eu-central-1
    profile: eu-admin
jobs:
  - name: a
    select: { status: Active }
    set: Cancelled
"#;
        let original = plan::load_str("targets.yaml", source).unwrap().plan;
        let specs = original
            .targets
            .as_ref()
            .unwrap()
            .value
            .iter()
            .map(|s| s.value.clone())
            .collect();
        let act = act(&["--description", "reindex-*"]);
        let targets = FlagTargets {
            path: PathBuf::from("targets.yaml"),
            specs,
            names: vec!["prod".to_owned(), "dr".to_owned()],
        };
        let flags = FlagPlan {
            targets: Some(&targets),
            ..plan_of(&act)
        };
        for text in [flags.body(), flags.saved("s3plan cancel")] {
            let loaded =
                plan::load_str("<flags>", &text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
            assert_eq!(loaded.plan.targets(), original.targets(), "{text}");
            let entry = loaded.plan.entries().next().unwrap();
            assert_eq!(entry.target_indexes(&loaded.plan), [0, 1, 2], "{text}");
        }
        assert!(flags.saved("x").contains("# Targets from: targets.yaml\n"));
    }

    #[test]
    fn flag_values_are_checked_with_a_reason() {
        assert!(parse_status("Suspnded").unwrap_err().contains("Suspended"));
        assert!(parse_description("regex:(").is_err());
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
        let two_hours_ago = parse_time("2h").unwrap();
        let lag = Timestamp::now().duration_since(two_hours_ago);
        assert!(lag >= jiff::SignedDuration::from_hours(2), "{lag:?}");
        assert!(parse_operation("Lambda").is_err());
        assert_eq!(
            parse_priority("5").unwrap(),
            PriorityBounds {
                min: Some(5),
                max: Some(5)
            }
        );
        assert_eq!(
            parse_priority("..50").unwrap(),
            PriorityBounds {
                min: None,
                max: Some(50)
            }
        );
        assert!(parse_priority("50..10").is_err());
        assert!(parse_priority("..").is_err());
        assert!(parse_priority("-1..").is_err());
        assert_eq!(
            parse_tag("a=b=c").unwrap(),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert!(parse_tag("=x").is_err());
        assert_eq!(shell_quoted("reindex-*"), "'reindex-*'");
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
        assert_eq!(shell_quoted("--status"), "--status");
    }
}
