//! Semantic checks of a structurally sound plan: ranges, names, references, cycles, conflicts, selectors
//! and gates, every problem collected.
//!
//! Owns the rules that need the typed model; each becomes a [`Diagnostic`] with the span of the value at
//! fault. Does not own shape checks (`structure.rs`) or wording (`diagnostic_kind.rs`).

use std::collections::HashMap;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::diagnostic::{Diagnostic, Span};
use super::diagnostic_kind::DiagnosticKind;
use super::model::{
    CONCURRENCY_RANGE, DescriptionPattern, Entry, GateLong, HumanDuration, MAX_JOBS_RANGE,
    MAX_RATE_LIMIT, MAX_REASON_CHARS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_TAGS,
    PLAN_VERSION, POLL_INTERVAL_RANGE, PRIORITY_RANGE, Plan, REGEX_PREFIX, Selector, StatusList,
    TIMEOUT_RANGE, WaitFor, parse_percent,
};
use super::structure::suggest;
use super::validate_targets::check_targets;
use crate::api::{JobStatus, TargetStatus};

/// Checks `plan` and returns every problem, errors and warnings.
pub(crate) fn validate(plan: &Plan) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if plan.version.value != PLAN_VERSION {
        out.push(Diagnostic::at(
            Span::of(&plan.version),
            DiagnosticKind::UnsupportedVersion {
                found: plan.version.value.to_string(),
            },
        ));
    }
    if let Some(reason) = &plan.reason {
        check_reason(reason, &mut out);
    }
    if let Some(interval) = &plan.poll_interval {
        check_duration("poll_interval", interval, &POLL_INTERVAL_RANGE, &mut out);
    }
    if let Some(timeout) = &plan.timeout {
        check_duration("timeout", timeout, &TIMEOUT_RANGE, &mut out);
    }
    if let Some(limits) = &plan.limits {
        if let Some(c) = &limits.value.concurrency {
            check_int("limits.concurrency", c, CONCURRENCY_RANGE, &mut out);
        }
        for (field, rate) in [
            ("limits.rate_limit", &limits.value.rate_limit),
            ("limits.poll_rate_limit", &limits.value.poll_rate_limit),
        ] {
            if let Some(rate) = rate
                && !(rate.value > 0.0 && rate.value <= MAX_RATE_LIMIT)
            {
                out.push(Diagnostic::at(
                    Span::of(rate),
                    DiagnosticKind::OutOfRange {
                        field,
                        value: rate.value.to_string(),
                        range: format!("(0, {MAX_RATE_LIMIT}] calls per second"),
                    },
                ));
            }
        }
    }
    if plan.jobs.value.is_empty() {
        out.push(Diagnostic::at(
            Span::of(&plan.jobs),
            DiagnosticKind::NoEntries,
        ));
    }
    for entry in &plan.jobs.value {
        check_entry(entry, &mut out);
    }
    check_names(plan, &mut out);
    check_conflicts(plan, &mut out);
    check_targets(plan, &mut out);
    out
}

fn check_reason(reason: &Spanned<String>, out: &mut Vec<Diagnostic>) {
    let chars = reason.value.chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS {
        out.push(Diagnostic::at(
            Span::of(reason),
            DiagnosticKind::ReasonLength { chars },
        ));
    }
}

fn check_duration(
    field: &'static str,
    value: &Spanned<HumanDuration>,
    range: &std::ops::RangeInclusive<Duration>,
    out: &mut Vec<Diagnostic>,
) {
    if !range.contains(&value.value.0) {
        out.push(Diagnostic::at(
            Span::of(value),
            DiagnosticKind::OutOfRange {
                field,
                value: humantime::format_duration(value.value.0).to_string(),
                range: format!(
                    "{} to {}",
                    humantime::format_duration(*range.start()),
                    humantime::format_duration(*range.end())
                ),
            },
        ));
    }
}

fn check_int(
    field: &'static str,
    value: &Spanned<i64>,
    range: std::ops::RangeInclusive<i64>,
    out: &mut Vec<Diagnostic>,
) {
    if !range.contains(&value.value) {
        out.push(Diagnostic::at(
            Span::of(value),
            DiagnosticKind::OutOfRange {
                field,
                value: value.value.to_string(),
                range: format!("{} to {}", range.start(), range.end()),
            },
        ));
    }
}

fn check_entry(spanned: &Spanned<Entry>, out: &mut Vec<Diagnostic>) {
    let entry = &spanned.value;
    let name_span = Span::of(&entry.name);
    let name = &entry.name.value;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        out.push(Diagnostic::at(
            name_span,
            DiagnosticKind::InvalidName { name: name.clone() },
        ));
    }
    let mut sets: Vec<(&'static str, Span)> = Vec::new();
    if let Some(id) = &entry.job_id {
        sets.push(("job_id", Span::of(id)));
    }
    if let Some(ids) = &entry.job_ids {
        sets.push(("job_ids", Span::of(ids)));
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for id in &ids.value {
            if seen.insert(id.value.as_str(), Span::of(id)).is_some() {
                out.push(Diagnostic::at(
                    Span::of(id),
                    DiagnosticKind::DuplicateJobId {
                        job: id.value.to_string(),
                    },
                ));
            }
        }
    }
    if let Some(select) = &entry.select {
        sets.push(("select", Span::of(select)));
        check_selector(select, out);
    }
    match sets.as_slice() {
        [] => out.push(Diagnostic::at(name_span, DiagnosticKind::NoJobSet)),
        [_] => {}
        [_, second, ..] => out.push(Diagnostic::at(
            second.1,
            DiagnosticKind::SeveralJobSets {
                keys: sets.iter().map(|(k, _)| *k).collect(),
            },
        )),
    }
    if let Some(max_jobs) = &entry.max_jobs {
        if entry.select.is_none() {
            out.push(Diagnostic::at(
                Span::of(max_jobs),
                DiagnosticKind::MaxJobsWithoutSelect,
            ));
        }
        check_int("max_jobs", max_jobs, MAX_JOBS_RANGE, out);
    }
    // An entry with a gate and no action is a checkpoint: it waits and sends nothing.
    if entry.set.is_none() && entry.priority.is_none() && entry.wait_for.is_none() {
        out.push(Diagnostic::at(name_span, DiagnosticKind::NoAction));
    }
    if let Some(priority) = &entry.priority {
        check_int("priority", priority, PRIORITY_RANGE, out);
    }
    if let Some(reason) = &entry.reason {
        check_reason(reason, out);
    }
    if let Some(after) = &entry.after {
        for other in &after.value {
            if other.value == *name {
                out.push(Diagnostic::at(Span::of(other), DiagnosticKind::AfterSelf));
            }
        }
    }
    if let Some(wait_for) = &entry.wait_for {
        check_gate(entry, wait_for, out);
    }
}

fn check_selector(select: &Spanned<Selector>, out: &mut Vec<Diagnostic>) {
    let selector = &select.value;
    match &selector.all {
        Some(all) if !all.value => {
            out.push(Diagnostic::at(
                Span::of(all),
                DiagnosticKind::SelectorAllFalse,
            ));
        }
        Some(all) if selector.has_filter() => out.push(Diagnostic::at(
            Span::of(all),
            DiagnosticKind::SelectorAllWithFilters,
        )),
        Some(_) => {}
        None if !selector.has_filter() => out.push(Diagnostic::at(
            Span::of(select),
            DiagnosticKind::SelectorWithoutFilter,
        )),
        None => {}
    }
    if let Some(description) = &selector.description
        && let Err(reason) = DescriptionPattern::check(&description.value)
    {
        let syntax = if description.value.starts_with(REGEX_PREFIX) {
            "regex"
        } else {
            "glob"
        };
        out.push(Diagnostic::at(
            Span::of(description),
            DiagnosticKind::InvalidPattern { syntax, reason },
        ));
    }
    if let (Some(after), Some(before)) = (&selector.created_after, &selector.created_before)
        && after.value >= before.value
    {
        out.push(
            Diagnostic::at(Span::of(after), DiagnosticKind::EmptyTimeRange)
                .with_other(Span::of(before)),
        );
    }
    if let Some(range) = &selector.priority {
        for bound in [&range.value.min, &range.value.max].into_iter().flatten() {
            check_int("priority", bound, PRIORITY_RANGE, out);
        }
        if let (Some(min), Some(max)) = (&range.value.min, &range.value.max)
            && min.value > max.value
        {
            out.push(
                Diagnostic::at(
                    Span::of(min),
                    DiagnosticKind::EmptyPriorityRange {
                        min: min.value,
                        max: max.value,
                    },
                )
                .with_other(Span::of(max)),
            );
        }
    }
    if let Some(tags) = &selector.tags {
        if tags.value.len() > MAX_TAGS {
            out.push(Diagnostic::at(
                Span::of(tags),
                DiagnosticKind::TooManyTags {
                    count: tags.value.len(),
                },
            ));
        }
        for (key, value) in &tags.value {
            let chars = key.value.chars().count();
            if chars == 0 || chars > MAX_TAG_KEY_CHARS {
                out.push(Diagnostic::at(
                    Span::of(key),
                    DiagnosticKind::TagKeyLength { chars },
                ));
            }
            let chars = value.value.chars().count();
            if chars > MAX_TAG_VALUE_CHARS {
                out.push(Diagnostic::at(
                    Span::of(value),
                    DiagnosticKind::TagValueLength { chars },
                ));
            }
        }
    }
}

/// Statuses from which the entry's change can no longer happen, with the reason.
fn pointless(status: JobStatus, target: Option<TargetStatus>) -> Option<&'static str> {
    if status.is_terminal() {
        return Some("the job never leaves that status, so it can no longer be changed");
    }
    match target {
        Some(TargetStatus::Ready) if status != JobStatus::Suspended => {
            Some("only a `Suspended` job can be confirmed")
        }
        Some(TargetStatus::Cancelled) if status == JobStatus::Cancelling => {
            Some("the job is already being cancelled")
        }
        _ => None,
    }
}

fn check_gate(entry: &Entry, wait_for: &Spanned<WaitFor>, out: &mut Vec<Diagnostic>) {
    let (own, list, list_span) = match &wait_for.value {
        WaitFor::Own(list) => (true, list, Span::of(wait_for)),
        WaitFor::Long(long) => {
            let GateLong {
                job,
                target: _,
                status,
                timeout,
                max_failed_tasks,
                max_failure_rate,
            } = long.as_ref();
            if let Some(timeout) = timeout {
                check_duration("wait_for.timeout", timeout, &TIMEOUT_RANGE, out);
            }
            check_task_condition(status, max_failed_tasks, max_failure_rate, out);
            (job.is_none(), &status.value, Span::of(status))
        }
    };
    if !own {
        return;
    }
    let action = match (entry.target(), &entry.priority) {
        (Some(target), _) => format!("set: {target}"),
        (None, Some(_)) => "priority".to_owned(),
        (None, None) => return,
    };
    let statuses: Vec<(JobStatus, Span)> = match list {
        StatusList::One(status) => vec![(*status, list_span)],
        StatusList::Many(many) => many.iter().map(|s| (s.value, Span::of(s))).collect(),
    };
    for (status, span) in statuses {
        if let Some(why) = pointless(status, entry.target()) {
            out.push(Diagnostic::at(
                span,
                DiagnosticKind::PointlessGate {
                    status: status.to_string(),
                    action: action.clone(),
                    why,
                },
            ));
        }
    }
}

/// A task condition needs numbers in range and a status list with a status a job ends in: a job is
/// judged on its finished tasks only once it has run to its end.
fn check_task_condition(
    status: &Spanned<StatusList>,
    max_failed_tasks: &Option<Spanned<i64>>,
    max_failure_rate: &Option<Spanned<String>>,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(max) = max_failed_tasks
        && max.value < 0
    {
        out.push(Diagnostic::at(
            Span::of(max),
            DiagnosticKind::OutOfRange {
                field: "wait_for.max_failed_tasks",
                value: max.value.to_string(),
                range: "0 or more".to_owned(),
            },
        ));
    }
    if let Some(rate) = max_failure_rate {
        match parse_percent(&rate.value) {
            None => out.push(Diagnostic::at(
                Span::of(rate),
                DiagnosticKind::InvalidPercent {
                    value: rate.value.clone(),
                },
            )),
            Some(bp) if bp > 10_000 => out.push(Diagnostic::at(
                Span::of(rate),
                DiagnosticKind::OutOfRange {
                    field: "wait_for.max_failure_rate",
                    value: rate.value.clone(),
                    range: "0% to 100%".to_owned(),
                },
            )),
            Some(_) => {}
        }
    }
    if max_failed_tasks.is_none() && max_failure_rate.is_none() {
        return;
    }
    let statuses = status.value.statuses();
    if !statuses.iter().any(|s| s.is_terminal()) {
        let names: Vec<String> = statuses.iter().map(|s| format!("`{s}`")).collect();
        out.push(Diagnostic::at(
            Span::of(status),
            DiagnosticKind::TaskConditionWithoutEnd {
                statuses: names.join(", "),
            },
        ));
    }
}

fn check_names(plan: &Plan, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<&str, (usize, Span)> = HashMap::new();
    for (index, entry) in plan.jobs.value.iter().enumerate() {
        let name = &entry.value.name;
        if let Some((_, span)) = first.get(name.value.as_str()) {
            out.push(
                Diagnostic::at(
                    Span::of(name),
                    DiagnosticKind::DuplicateName {
                        name: name.value.clone(),
                    },
                )
                .with_other(*span),
            );
        } else {
            first.insert(&name.value, (index, Span::of(name)));
        }
    }
    // Edges of the `after` graph, by index; unknown names are reported and left out.
    let mut edges: Vec<Vec<(usize, Span)>> = vec![Vec::new(); plan.jobs.value.len()];
    for (index, entry) in plan.jobs.value.iter().enumerate() {
        let Some(after) = &entry.value.after else {
            continue;
        };
        for other in &after.value {
            match first.get(other.value.as_str()) {
                Some((target, _)) if *target != index => {
                    edges[index].push((*target, Span::of(other)))
                }
                Some(_) => {}
                None => out.push(Diagnostic::at(
                    Span::of(other),
                    DiagnosticKind::UnknownAfter {
                        name: other.value.clone(),
                        suggestion: suggest(&other.value, first.keys().copied()).map(str::to_owned),
                    },
                )),
            }
        }
    }
    for cycle in find_cycles(&edges) {
        let mut path: Vec<String> = cycle
            .iter()
            .map(|(i, _)| plan.jobs.value[*i].value.name.value.clone())
            .collect();
        path.push(path[0].clone());
        let span = cycle[0].1;
        out.push(Diagnostic::at(span, DiagnosticKind::Cycle { path }));
    }
}

/// Every elementary cycle found by a depth-first search, once each, as (entry, span of its `after` link).
fn find_cycles(edges: &[Vec<(usize, Span)>]) -> Vec<Vec<(usize, Span)>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let mut marks = vec![Mark::New; edges.len()];
    let mut cycles = Vec::new();
    for start in 0..edges.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next edge index, span of the edge that led here).
        let mut stack: Vec<(usize, usize, Span)> = vec![(start, 0, Span::default())];
        marks[start] = Mark::OnStack;
        while let Some(top) = stack.last_mut() {
            let (node, next) = (top.0, top.1);
            if let Some(&(target, span)) = edges[node].get(next) {
                top.1 += 1;
                match marks[target] {
                    Mark::New => {
                        marks[target] = Mark::OnStack;
                        stack.push((target, 0, span));
                    }
                    Mark::OnStack => {
                        let from = stack
                            .iter()
                            .position(|(n, _, _)| *n == target)
                            .expect("a node marked OnStack is on the stack");
                        // Each member is paired with the span of its own `after` link to the next one.
                        let members: Vec<usize> =
                            stack[from..].iter().map(|(n, _, _)| *n).collect();
                        let mut cycle = Vec::with_capacity(members.len());
                        for (i, member) in members.iter().enumerate() {
                            let link = if i + 1 < members.len() {
                                stack[from + i + 1].2
                            } else {
                                span
                            };
                            cycle.push((*member, link));
                        }
                        cycles.push(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    cycles
}

fn check_conflicts(plan: &Plan, out: &mut Vec<Diagnostic>) {
    // First entry that sets each job, with its target and span.
    let mut targets: HashMap<&str, (&str, TargetStatus, Span)> = HashMap::new();
    for entry in &plan.jobs.value {
        let entry = &entry.value;
        let Some(set) = &entry.set else {
            continue;
        };
        let ids: Vec<&Spanned<crate::api::JobId>> = entry
            .job_id
            .iter()
            .chain(entry.job_ids.iter().flat_map(|ids| ids.value.iter()))
            .collect();
        for id in ids {
            match targets.get(id.value.as_str()) {
                Some((other_entry, other, other_span)) if *other != set.value => out.push(
                    Diagnostic::at(
                        Span::of(id),
                        DiagnosticKind::ConflictingTargets {
                            job: id.value.to_string(),
                            this: set.value.to_string(),
                            other_entry: (*other_entry).to_owned(),
                            other: other.to_string(),
                        },
                    )
                    .with_other(*other_span),
                ),
                Some(_) => {}
                None => {
                    targets.insert(
                        id.value.as_str(),
                        (&entry.name.value, set.value, Span::of(id)),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check_bytes;
    use std::path::Path;

    const HEAD: &str = "version: 1\njobs:\n";

    /// (entries after `jobs:`, expected code, expected line:column of its span).
    const CASES: &[(&str, &str, (usize, usize))] = &[
        (
            "  - name: a\n    job_id: \"abcde\"\n    set: Ready\n  - name: a\n    job_id: \"fghij\"\n    set: Ready\n",
            "duplicate_name",
            (6, 11),
        ),
        ("  - name: a\n    set: Ready\n", "no_job_set", (3, 11)),
        ("  - name: a\n    job_id: \"abcde\"\n", "no_action", (3, 11)),
        (
            "  - name: a\n    job_id: \"abcde\"\n    after: [b]\n    set: Ready\n",
            "unknown_after",
            (5, 13),
        ),
        (
            "  - name: a\n    job_id: \"abcde\"\n    after: [a]\n    set: Ready\n",
            "after_self",
            (5, 13),
        ),
        (
            "  - name: a\n    job_id: \"abcde\"\n    priority: 2147483648\n",
            "out_of_range",
            (5, 15),
        ),
        (
            "  - name: a\n    select: { all: false }\n    set: Cancelled\n",
            "selector_all_false",
            (4, 20),
        ),
        (
            "  - name: a\n    job_id: \"abcde\"\n    wait_for: { status: Cancelling }\n    set: Cancelled\n",
            "pointless_gate",
            (5, 25),
        ),
        (
            "  - name: a\n    job_id: \"abcde\"\n    wait_for: { status: Complete, max_failed_tasks: -1 }\n    set: Cancelled\n",
            "out_of_range",
            (5, 53),
        ),
        (
            "  - name: a\n    job_id: \"abcde\"\n    wait_for: { status: Complete, max_failure_rate: 100.5% }\n    set: Cancelled\n",
            "out_of_range",
            (5, 53),
        ),
        (
            "  - name: a\n    job_id: \"abcde\"\n    wait_for: { status: Complete, max_failure_rate: \"1.5\" }\n    set: Cancelled\n",
            "invalid_percent",
            (5, 53),
        ),
        (
            "  - name: a\n    job_id: \"abcde\"\n    wait_for: { job: fghij, status: [Ready, Active], max_failed_tasks: 0 }\n    set: Cancelled\n",
            "task_condition_without_end",
            (5, 37),
        ),
    ];

    #[test]
    fn each_rule_reports_its_kind_at_its_span() {
        for (entries, code, (line, column)) in CASES {
            let text = format!("{HEAD}{entries}");
            let checked = check_bytes(Path::new("t.yaml"), text.as_bytes());
            let found: Vec<(&str, (usize, usize))> = checked
                .diagnostics
                .iter()
                .map(|d| {
                    let code = d.kind.code().trim_start_matches("s3plan::plan::");
                    (code, d.line_column(&checked.source))
                })
                .collect();
            assert!(
                found.contains(&(*code, (*line, *column))),
                "{code} at {line}:{column} expected in {found:?} for\n{text}"
            );
        }
    }

    #[test]
    fn a_valid_plan_has_no_problems_and_defaults_apply() {
        let text = format!("{HEAD}  - name: a\n    job_id: \"abcde\"\n    set: Ready\n");
        let loaded = crate::plan::load_str("t.yaml", &text).unwrap();
        assert!(loaded.warnings.is_empty());
        assert_eq!(
            loaded.plan.concurrency(),
            crate::plan::model::DEFAULT_CONCURRENCY
        );
        assert_eq!(loaded.plan.timeout(), crate::plan::model::DEFAULT_TIMEOUT);
        assert_eq!(loaded.sha256.len(), 64);
    }
}
