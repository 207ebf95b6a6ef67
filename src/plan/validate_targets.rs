//! Semantic checks of the plan's targets and of every name that refers to one: the `targets:` list, each
//! entry's `targets:`, and each gate's `target:`; every problem collected.
//!
//! Owns the rules that keep "where does this act" unambiguous: unique names and places, one region key,
//! credentials that fit the account, and job ids that belong to exactly one target. Does not own what the
//! names mean (`targets.rs`) or the wording (`diagnostic_kind.rs`).

use std::collections::HashMap;

use serde_saphyr::Spanned;

use super::diagnostic::{Diagnostic, Span};
use super::diagnostic_kind::DiagnosticKind;
use super::model::{Entry, Plan, WaitFor};
use super::structure::suggest;
use super::targets::{PlanTarget, TargetSpec, indexes_named, is_region_name, parse_role_arn};

/// Checks the targets of `plan` and every reference to them.
pub(crate) fn check_targets(plan: &Plan, out: &mut Vec<Diagnostic>) {
    let Some(specs) = &plan.targets else {
        for entry in plan.entries() {
            check_without_targets(entry, out);
        }
        return;
    };
    if let Some(account_id) = &plan.account_id {
        out.push(Diagnostic::at(
            Span::of(account_id),
            DiagnosticKind::PlaceBesideTargets { key: "account_id" },
        ));
    }
    if let Some(region) = &plan.region {
        out.push(Diagnostic::at(
            Span::of(region),
            DiagnosticKind::PlaceBesideTargets { key: "region" },
        ));
    }
    for spec in &specs.value {
        check_spec(spec, out);
    }
    check_unique(&specs.value, out);
    let targets = plan.targets();
    // Every name an entry may use, once each, in plan order (a group before its targets).
    let mut known: Vec<String> = Vec::new();
    for target in &targets {
        for name in [&target.group, &target.name] {
            if !known.contains(name) {
                known.push(name.clone());
            }
        }
    }
    for entry in plan.entries() {
        check_entry(plan, entry, &targets, &known, out);
    }
}

/// A plan without `targets` acts in one place: a name of a target means nothing in it.
fn check_without_targets(entry: &Entry, out: &mut Vec<Diagnostic>) {
    if let Some(names) = &entry.targets {
        out.push(Diagnostic::at(
            Span::of(names),
            DiagnosticKind::TargetsWithoutPlanTargets { key: "targets" },
        ));
    }
    if let Some(wait_for) = &entry.wait_for
        && let WaitFor::Long(long) = &wait_for.value
        && let Some(target) = &long.target
    {
        out.push(Diagnostic::at(
            Span::of(target),
            DiagnosticKind::TargetsWithoutPlanTargets { key: "target" },
        ));
    }
}

fn check_spec(spanned: &Spanned<TargetSpec>, out: &mut Vec<Diagnostic>) {
    let spec = &spanned.value;
    let name = &spec.name.value;
    let name_span = Span::of(&spec.name);
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        out.push(Diagnostic::at(
            name_span,
            DiagnosticKind::InvalidTargetName { name: name.clone() },
        ));
    }
    match (&spec.region, &spec.regions) {
        (Some(_), Some(regions)) => out.push(Diagnostic::at(
            Span::of(regions),
            DiagnosticKind::TargetRegions { both: true },
        )),
        (None, None) => out.push(Diagnostic::at(
            name_span,
            DiagnosticKind::TargetRegions { both: false },
        )),
        _ => {}
    }
    let regions: Vec<&Spanned<String>> = spec
        .region
        .iter()
        .chain(spec.regions.iter().flat_map(|r| r.value.iter()))
        .collect();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for region in regions {
        if !is_region_name(&region.value) {
            out.push(Diagnostic::at(
                Span::of(region),
                DiagnosticKind::InvalidRegion {
                    region: region.value.clone(),
                },
            ));
        }
        if let Some(first) = seen.get(region.value.as_str()) {
            out.push(
                Diagnostic::at(
                    Span::of(region),
                    DiagnosticKind::DuplicateRegion {
                        region: region.value.clone(),
                    },
                )
                .with_other(*first),
            );
        } else {
            seen.insert(&region.value, Span::of(region));
        }
    }
    if let Some(arn) = &spec.role_arn {
        if spec.profile.is_some() {
            out.push(Diagnostic::at(
                Span::of(arn),
                DiagnosticKind::SeveralCredentials,
            ));
        }
        match parse_role_arn(&arn.value) {
            Err(reason) => out.push(Diagnostic::at(
                Span::of(arn),
                DiagnosticKind::InvalidRoleArn {
                    value: arn.value.clone(),
                    reason,
                },
            )),
            Ok(role) if role.account != spec.account_id.value.as_str() => out.push(
                Diagnostic::at(
                    Span::of(arn),
                    DiagnosticKind::RoleArnAccount {
                        arn_account: role.account.to_owned(),
                        account_id: spec.account_id.value.as_str().to_owned(),
                    },
                )
                .with_other(Span::of(&spec.account_id)),
            ),
            Ok(_) => {}
        }
    }
}

/// Names are unique as written and once expanded, and no two targets share an account and region.
fn check_unique(specs: &[Spanned<TargetSpec>], out: &mut Vec<Diagnostic>) {
    let mut written: HashMap<&str, Span> = HashMap::new();
    let mut expanded: HashMap<String, Span> = HashMap::new();
    let mut places: HashMap<(&str, &str), (String, Span)> = HashMap::new();
    for spanned in specs {
        let spec = &spanned.value;
        let name_span = Span::of(&spec.name);
        let repeated = written.get(spec.name.value.as_str()).copied();
        match repeated {
            Some(first) => out.push(
                Diagnostic::at(
                    name_span,
                    DiagnosticKind::DuplicateTargetName {
                        name: spec.name.value.clone(),
                    },
                )
                .with_other(first),
            ),
            None => {
                written.insert(&spec.name.value, name_span);
            }
        }
        let regions: Vec<&Spanned<String>> = match (&spec.region, &spec.regions) {
            (Some(region), _) => vec![region],
            (None, Some(regions)) => regions.value.iter().collect(),
            (None, None) => Vec::new(),
        };
        let mut own: Vec<&str> = Vec::new();
        for region in regions {
            if own.contains(&region.value.as_str()) {
                // Reported as a duplicate region of this target.
                continue;
            }
            own.push(&region.value);
            let name = spec.target_name(&region.value);
            let span = Span::of(region);
            match expanded.get(&name) {
                Some(first) if repeated.is_none() => out.push(
                    Diagnostic::at(
                        span,
                        DiagnosticKind::DuplicateTargetName { name: name.clone() },
                    )
                    .with_other(*first),
                ),
                Some(_) => {}
                None => {
                    expanded.insert(name.clone(), span);
                }
            }
            let place = (spec.account_id.value.as_str(), region.value.as_str());
            match places.get(&place) {
                Some((other, first)) => out.push(
                    Diagnostic::at(
                        span,
                        DiagnosticKind::DuplicateTargetPlace {
                            account_id: place.0.to_owned(),
                            region: place.1.to_owned(),
                            other: other.clone(),
                        },
                    )
                    .with_other(*first),
                ),
                None => {
                    places.insert(place, (name, span));
                }
            }
        }
    }
}

fn check_entry(
    plan: &Plan,
    entry: &Entry,
    targets: &[PlanTarget],
    known: &[String],
    out: &mut Vec<Diagnostic>,
) {
    let unknown = |name: &Spanned<String>| {
        Diagnostic::at(
            Span::of(name),
            DiagnosticKind::UnknownTarget {
                name: name.value.clone(),
                suggestion: suggest(&name.value, known.iter().map(String::as_str))
                    .map(str::to_owned),
                known: known.to_vec(),
            },
        )
    };
    let mut all_known = true;
    if let Some(names) = &entry.targets {
        for name in &names.value {
            if indexes_named(targets, &name.value).is_empty() {
                all_known = false;
                out.push(unknown(name));
            }
        }
    }
    // A job id names one job in one account and region: looked up in several, it would be a guess.
    let ids = match (&entry.job_id, &entry.job_ids) {
        (Some(id), _) => Some(("job_id", Span::of(id))),
        (None, Some(ids)) => Some(("job_ids", Span::of(ids))),
        (None, None) => None,
    };
    if let Some((key, ids_span)) = ids
        && all_known
        && targets.len() > 1
    {
        let indexes = entry.target_indexes(plan);
        if indexes.len() != 1 {
            let span = entry.targets.as_ref().map_or(ids_span, Span::of);
            out.push(Diagnostic::at(
                span,
                DiagnosticKind::JobIdTargets {
                    key,
                    targets: names_of(targets, &indexes),
                },
            ));
        }
    }
    let Some(wait_for) = &entry.wait_for else {
        return;
    };
    let WaitFor::Long(long) = &wait_for.value else {
        return;
    };
    match (&long.job, &long.target) {
        (None, Some(target)) => out.push(Diagnostic::at(
            Span::of(target),
            DiagnosticKind::GateTargetWithoutJob,
        )),
        (Some(_), Some(target)) => {
            let indexes = indexes_named(targets, &target.value);
            if indexes.is_empty() {
                out.push(unknown(target));
            } else if indexes.len() > 1 {
                out.push(Diagnostic::at(
                    Span::of(target),
                    DiagnosticKind::JobIdTargets {
                        key: "wait_for.job",
                        targets: names_of(targets, &indexes),
                    },
                ));
            }
        }
        (Some(job), None) if targets.len() > 1 => out.push(Diagnostic::at(
            Span::of(job),
            DiagnosticKind::JobIdTargets {
                key: "wait_for.job",
                targets: names_of(targets, &(0..targets.len()).collect::<Vec<_>>()),
            },
        )),
        _ => {}
    }
}

/// The names of the targets at `indexes`, once each (a plan with mistakes may repeat one).
fn names_of(targets: &[PlanTarget], indexes: &[usize]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for index in indexes {
        if !names.contains(&targets[*index].name) {
            names.push(targets[*index].name.clone());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use crate::plan::check_bytes;
    use std::path::Path;

    const TARGETS: &str = "version: 1\ntargets:\n  - name: prod-us\n    account_id: \"111122223333\"\n    region: us-east-1\n  - name: dr\n    account_id: \"444455556666\"\n    regions: [us-east-1, us-west-2]\n";

    /// (text after the targets above, or a whole plan when it starts with `version`; expected code;
    /// expected line:column of its span).
    const CASES: &[(&str, &str, (usize, usize))] = &[
        (
            "  - name: Prod_EU\n    account_id: \"111122223333\"\n    region: eu-west-1\njobs:\n  - name: a\n    select: { all: true }\n    set: Cancelled\n",
            "invalid_target_name",
            (9, 11),
        ),
        (
            "  - name: dr\n    account_id: \"111122223333\"\n    region: eu-west-1\njobs:\n  - name: a\n    select: { all: true }\n    set: Cancelled\n",
            "duplicate_target_name",
            (9, 11),
        ),
        (
            "  - name: us\n    account_id: \"111122223333\"\n    region: us-east-1\njobs:\n  - name: a\n    select: { all: true }\n    set: Cancelled\n",
            "duplicate_target_place",
            (11, 13),
        ),
        (
            "  - name: eu\n    account_id: \"111122223333\"\njobs:\n  - name: a\n    select: { all: true }\n    set: Cancelled\n",
            "target_regions",
            (9, 11),
        ),
        (
            "  - name: eu\n    account_id: \"111122223333\"\n    regions: [eu-west-1, eu-west-1]\njobs:\n  - name: a\n    select: { all: true }\n    set: Cancelled\n",
            "duplicate_region",
            (11, 26),
        ),
        (
            "  - name: eu\n    account_id: \"111122223333\"\n    region: euwest1\njobs:\n  - name: a\n    select: { all: true }\n    set: Cancelled\n",
            "invalid_region",
            (11, 13),
        ),
        (
            "  - name: eu\n    account_id: \"111122223333\"\n    region: eu-west-1\n    profile: eu\n    role_arn: arn:aws:iam::111122223333:role/ops\njobs:\n  - name: a\n    select: { all: true }\n    set: Cancelled\n",
            "several_credentials",
            (13, 15),
        ),
        (
            "  - name: eu\n    account_id: \"111122223333\"\n    region: eu-west-1\n    role_arn: arn:aws:iam::111122223333:user/ops\njobs:\n  - name: a\n    select: { all: true }\n    set: Cancelled\n",
            "invalid_role_arn",
            (12, 15),
        ),
        (
            "  - name: eu\n    account_id: \"111122223333\"\n    region: eu-west-1\n    role_arn: arn:aws:iam::444455556666:role/ops\njobs:\n  - name: a\n    select: { all: true }\n    set: Cancelled\n",
            "role_arn_account",
            (12, 15),
        ),
        (
            "jobs:\n  - name: a\n    targets: [dr/eu-west-1]\n    select: { all: true }\n    set: Cancelled\n",
            "unknown_target",
            (11, 15),
        ),
        (
            "jobs:\n  - name: a\n    job_id: \"abcde\"\n    set: Cancelled\n",
            "job_id_targets",
            (11, 13),
        ),
        (
            "jobs:\n  - name: a\n    targets: [dr]\n    job_ids: [\"abcde\"]\n    set: Cancelled\n",
            "job_id_targets",
            (11, 14),
        ),
        (
            "jobs:\n  - name: a\n    targets: [prod-us]\n    job_id: \"abcde\"\n    wait_for: { job: fghij, status: Complete }\n    set: Ready\n",
            "job_id_targets",
            (13, 22),
        ),
        (
            "jobs:\n  - name: a\n    targets: [prod-us]\n    job_id: \"abcde\"\n    wait_for: { job: fghij, target: dr, status: Complete }\n    set: Ready\n",
            "job_id_targets",
            (13, 37),
        ),
        (
            "jobs:\n  - name: a\n    targets: [prod-us]\n    job_id: \"abcde\"\n    wait_for: { job: fghij, target: eu, status: Complete }\n    set: Ready\n",
            "unknown_target",
            (13, 37),
        ),
        (
            "jobs:\n  - name: a\n    targets: [prod-us]\n    job_id: \"abcde\"\n    wait_for: { target: dr/us-east-1, status: Suspended }\n    set: Ready\n",
            "gate_target_without_job",
            (13, 25),
        ),
        (
            "version: 1\naccount_id: \"111122223333\"\ntargets:\n  - name: us\n    account_id: \"111122223333\"\n    region: us-east-1\njobs:\n  - name: a\n    select: { all: true }\n    set: Cancelled\n",
            "place_beside_targets",
            (2, 13),
        ),
        (
            "version: 1\njobs:\n  - name: a\n    targets: [us]\n    select: { all: true }\n    set: Cancelled\n",
            "targets_without_plan_targets",
            (4, 14),
        ),
        (
            "version: 1\njobs:\n  - name: a\n    job_id: \"abcde\"\n    wait_for: { job: fghij, target: us, status: Complete }\n    set: Ready\n",
            "targets_without_plan_targets",
            (5, 37),
        ),
    ];

    #[test]
    fn each_target_rule_reports_its_kind_at_its_span() {
        let mut failures = Vec::new();
        for (rest, code, (line, column)) in CASES {
            let text = if rest.starts_with("version") {
                (*rest).to_owned()
            } else {
                format!("{TARGETS}{rest}")
            };
            let checked = check_bytes(Path::new("t.yaml"), text.as_bytes());
            let found: Vec<(&str, (usize, usize))> = checked
                .diagnostics
                .iter()
                .map(|d| {
                    let code = d.kind.code().trim_start_matches("s3plan::plan::");
                    (code, d.line_column(&checked.source))
                })
                .collect();
            if found != [(*code, (*line, *column))] {
                failures.push(format!(
                    "only {code} at {line}:{column} expected, found {found:?} in\n{text}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_job_id_in_one_target_and_a_gate_naming_its_target_are_valid() {
        let text = format!(
            "{TARGETS}jobs:\n  - name: a\n    targets: [dr/us-west-2]\n    job_id: \"abcde\"\n    wait_for: {{ job: fghij, target: prod-us, status: Complete }}\n    set: Ready\n  - name: b\n    select: {{ status: Active }}\n    set: Cancelled\n"
        );
        let checked = check_bytes(Path::new("t.yaml"), text.as_bytes());
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    }
}
