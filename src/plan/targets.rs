//! The places a plan acts in: the `targets:` key as written ([`TargetSpec`]), its expansion into one
//! [`PlanTarget`] per account and region, and the lookups by name the entries, gates and `--target` use.
//!
//! Owns the meaning of target and group names. Does not own their checks (`validate_targets.rs`) or
//! anything done with a target at run time (credentials, clients, limits).

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::model::{Entry, GateLong, Plan, account_id_schema};
use crate::api::AccountId;

/// One entry of the plan's `targets:` as written: an account and one region or several.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Unique name, `[a-z0-9_-]+`; with `regions`, the group of `NAME/REGION` targets.
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9_-]+$"))]
    pub name: Spanned<String>,
    /// The account the target's jobs live in.
    #[schemars(schema_with = "account_id_schema")]
    pub account_id: Spanned<AccountId>,
    /// The region (exactly one of `region`, `regions`).
    #[serde(default)]
    #[schemars(schema_with = "region_schema")]
    pub region: Option<Spanned<String>>,
    /// Several regions, one target each, named `NAME/REGION` (exactly one of `region`, `regions`).
    #[serde(default)]
    #[schemars(schema_with = "regions_schema")]
    pub regions: Option<Spanned<Vec<Spanned<String>>>>,
    /// A named profile of the AWS config files (at most one of `profile`, `role_arn`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// A role assumed through STS from the base credentials; its account is `account_id`.
    #[serde(default)]
    #[schemars(schema_with = "role_arn_schema")]
    pub role_arn: Option<Spanned<String>>,
}

impl TargetSpec {
    /// The regions as written, `region` or `regions`, in file order.
    pub fn region_list(&self) -> Vec<&str> {
        match (&self.region, &self.regions) {
            (Some(region), _) => vec![region.value.as_str()],
            (None, Some(regions)) => regions.value.iter().map(|r| r.value.as_str()).collect(),
            (None, None) => Vec::new(),
        }
    }

    /// The name each region of this spec gets: `name` for `region:`, `name/region` for `regions:`.
    pub fn target_name(&self, region: &str) -> String {
        if self.regions.is_some() && self.region.is_none() {
            format!("{}/{region}", self.name.value)
        } else {
            self.name.value.clone()
        }
    }

    /// How the target's calls get their credentials.
    pub fn credentials(&self) -> TargetCredentials {
        match (&self.role_arn, &self.profile) {
            (Some(arn), _) => TargetCredentials::AssumeRole {
                role_arn: arn.value.clone(),
            },
            (None, Some(profile)) => TargetCredentials::Profile(profile.value.clone()),
            (None, None) => TargetCredentials::Chain,
        }
    }
}

/// One place a plan acts in, after `regions:` is expanded, in plan order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTarget {
    /// `prod-us`; `dr/us-east-1` for each region of a `regions:` list.
    pub name: String,
    /// The `name:` as written (`dr`; equals `name` for a single `region:`).
    pub group: String,
    /// The account the target's jobs live in.
    pub account_id: AccountId,
    /// The target's region.
    pub region: String,
    /// How its calls get their credentials.
    pub credentials: TargetCredentials,
}

/// Where a target's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetCredentials {
    /// The standard AWS credential chain.
    Chain,
    /// A named profile (`profile:`).
    Profile(String),
    /// A role assumed through STS from the base credentials (`role_arn:`).
    AssumeRole {
        /// The role's ARN.
        role_arn: String,
    },
}

impl Plan {
    /// Every target, `regions:` expanded, in plan order; empty when the plan has no `targets:`.
    pub fn targets(&self) -> Vec<PlanTarget> {
        let Some(specs) = &self.targets else {
            return Vec::new();
        };
        specs
            .value
            .iter()
            .flat_map(|spec| {
                let spec = &spec.value;
                spec.region_list()
                    .into_iter()
                    .map(move |region| PlanTarget {
                        name: spec.target_name(region),
                        group: spec.name.value.clone(),
                        account_id: spec.account_id.value.clone(),
                        region: region.to_owned(),
                        credentials: spec.credentials(),
                    })
            })
            .collect()
    }

    /// `--target NAME...`: each name is a target name or a group name; indexes into [`Plan::targets`],
    /// plan order, deduplicated (no names, no targets). `Err` lists every unknown name, in the order given.
    pub fn select_targets(&self, names: &[String]) -> Result<Vec<usize>, Vec<String>> {
        let targets = self.targets();
        let mut chosen = vec![false; targets.len()];
        let mut unknown = Vec::new();
        for name in names {
            let matched = indexes_named(&targets, name);
            if matched.is_empty() {
                unknown.push(name.clone());
            }
            for index in matched {
                chosen[index] = true;
            }
        }
        if unknown.is_empty() {
            Ok(selected(&chosen))
        } else {
            Err(unknown)
        }
    }

    /// The index of a long-form gate's target: its `target:` when it names exactly one target, else the
    /// plan's only target; `None` when the plan has no targets or the name is not one target.
    pub(crate) fn gate_target(&self, gate: &GateLong) -> Option<usize> {
        let targets = self.targets();
        match &gate.target {
            Some(name) => match indexes_named(&targets, &name.value).as_slice() {
                [one] => Some(*one),
                _ => None,
            },
            None if targets.len() == 1 => Some(0),
            None => None,
        }
    }
}

impl Entry {
    /// Indexes into [`Plan::targets`] the entry runs in: its `targets:` (group names expand to their
    /// regions), or every target when absent; plan order, deduplicated. Empty when the plan has no
    /// `targets:`.
    pub fn target_indexes(&self, plan: &Plan) -> Vec<usize> {
        let targets = plan.targets();
        let Some(names) = &self.targets else {
            return (0..targets.len()).collect();
        };
        let mut chosen = vec![false; targets.len()];
        for name in &names.value {
            for index in indexes_named(&targets, &name.value) {
                chosen[index] = true;
            }
        }
        selected(&chosen)
    }
}

/// The targets `name` means: the target of that name, or every target of that group, in plan order.
pub(crate) fn indexes_named(targets: &[PlanTarget], name: &str) -> Vec<usize> {
    targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.name == name || t.group == name)
        .map(|(i, _)| i)
        .collect()
}

fn selected(chosen: &[bool]) -> Vec<usize> {
    chosen
        .iter()
        .enumerate()
        .filter(|(_, c)| **c)
        .map(|(i, _)| i)
        .collect()
}

/// The shape of an AWS region name, also checked by validation: `us-east-1`, `us-gov-west-1`.
pub(crate) const REGION_PATTERN: &str = "^[a-z]{2}(-[a-z]+)+-[0-9]+$";

/// Whether `region` has the shape of an AWS region name ([`REGION_PATTERN`]).
pub(crate) fn is_region_name(region: &str) -> bool {
    let Some((head, number)) = region.rsplit_once('-') else {
        return false;
    };
    let mut parts = head.split('-');
    let country = parts.next().unwrap_or_default();
    let words: Vec<&str> = parts.collect();
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_lowercase())
        && !words.is_empty()
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// A role ARN taken apart: `arn:<partition>:iam::<account>:role/<path/name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleArn<'a> {
    /// The 12-digit account the role lives in.
    pub(crate) account: &'a str,
}

/// Reads a role ARN, or says what is wrong with it (lower case, readable after "the role ARN ...").
pub(crate) fn parse_role_arn(text: &str) -> Result<RoleArn<'_>, &'static str> {
    let mut parts = text.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err("is not `arn:<partition>:iam::<account id>:role/<name>`");
    };
    if partition.is_empty()
        || !partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
    {
        return Err("has no valid partition (`aws`, `aws-cn`, `aws-us-gov`, ...)");
    }
    if service != "iam" {
        return Err("does not name an IAM resource (the service must be `iam`)");
    }
    if !region.is_empty() {
        return Err("names a region; IAM ARNs have none (`arn:aws:iam::...`)");
    }
    if AccountId::parse(account).is_err() {
        return Err("does not name a 12-digit account");
    }
    let Some(path_name) = resource.strip_prefix("role/") else {
        return Err("does not name a role (`role/<name>`)");
    };
    let valid = |b: u8| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b);
    if path_name.is_empty() || path_name.ends_with('/') || !path_name.bytes().all(valid) {
        return Err(
            "has no valid role name (letters, digits and `+=,.@_-`, after an optional path)",
        );
    }
    Ok(RoleArn { account })
}

fn region_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "An AWS region such as `us-east-1`",
        "type": "string",
        "pattern": REGION_PATTERN
    })
}

fn regions_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = region_schema(generator);
    json_schema!({
        "description": "Several AWS regions, one target each",
        "type": "array",
        "items": item,
        "minItems": 1
    })
}

fn role_arn_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "An IAM role ARN such as `arn:aws:iam::444455556666:role/s3plan-operator`",
        "type": "string",
        "pattern": "^arn:[a-z-]+:iam::[0-9]{12}:role/.+$"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::load_str;

    const PLAN: &str = r#"version: 1
targets:
  - name: prod-us
    account_id: "111122223333"
    region: us-east-1
  - name: dr
    account_id: "444455556666"
    regions: [us-east-1, us-west-2]
    role_arn: arn:aws:iam::444455556666:role/s3plan-operator
  - name: prod-eu
    account_id: "111122223333"
    region: eu-west-1
    profile: eu-admin
jobs:
  - name: everywhere
    select: { status: Active }
    set: Cancelled
  - name: dr-west
    targets: [dr/us-west-2]
    job_id: "abcde"
    wait_for: { job: "fghij", target: prod-eu, status: Complete }
    set: Ready
  - name: dr-and-us
    targets: [prod-us, dr, prod-us]
    select: { status: Active }
    wait_for: Suspended
    set: Cancelled
"#;

    fn plan() -> Plan {
        load_str("t.yaml", PLAN).unwrap().plan
    }

    #[test]
    fn regions_expand_to_one_target_each_in_plan_order() {
        let targets = plan().targets();
        let names: Vec<(&str, &str, &str, &str)> = targets
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.group.as_str(),
                    t.account_id.as_str(),
                    t.region.as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("prod-us", "prod-us", "111122223333", "us-east-1"),
                ("dr/us-east-1", "dr", "444455556666", "us-east-1"),
                ("dr/us-west-2", "dr", "444455556666", "us-west-2"),
                ("prod-eu", "prod-eu", "111122223333", "eu-west-1"),
            ]
        );
        assert_eq!(targets[0].credentials, TargetCredentials::Chain);
        let role = TargetCredentials::AssumeRole {
            role_arn: "arn:aws:iam::444455556666:role/s3plan-operator".to_owned(),
        };
        assert_eq!(targets[1].credentials, role);
        assert_eq!(targets[2].credentials, role);
        assert_eq!(
            targets[3].credentials,
            TargetCredentials::Profile("eu-admin".to_owned())
        );
    }

    #[test]
    fn a_plan_without_targets_has_none_and_its_entries_run_in_none() {
        let plan = load_str(
            "t.yaml",
            "version: 1\njobs:\n  - name: a\n    job_id: \"abcde\"\n    wait_for: { job: fghij, status: Complete }\n    set: Ready\n",
        )
        .unwrap()
        .plan;
        assert!(plan.targets().is_empty());
        let entry = plan.entries().next().unwrap();
        assert!(entry.target_indexes(&plan).is_empty());
        assert_eq!(entry.gate(&plan).unwrap().target, None);
        assert_eq!(
            plan.select_targets(&["dr".to_owned()]),
            Err(vec!["dr".to_owned()])
        );
    }

    #[test]
    fn select_targets_takes_names_and_groups_in_plan_order_once() {
        let plan = plan();
        let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            plan.select_targets(&names(&["prod-eu", "dr"])),
            Ok(vec![1, 2, 3])
        );
        assert_eq!(
            plan.select_targets(&names(&["dr/us-west-2", "dr", "prod-us"])),
            Ok(vec![0, 1, 2])
        );
        assert_eq!(plan.select_targets(&[]), Ok(vec![]));
        assert_eq!(
            plan.select_targets(&names(&["prod-us", "nope", "dr/eu-west-1"])),
            Err(names(&["nope", "dr/eu-west-1"]))
        );
    }

    #[test]
    fn an_entry_runs_in_its_targets_or_everywhere() {
        let plan = plan();
        let indexes: Vec<Vec<usize>> = plan.entries().map(|e| e.target_indexes(&plan)).collect();
        assert_eq!(indexes, [vec![0, 1, 2, 3], vec![2], vec![0, 1, 2]]);
    }

    #[test]
    fn a_gate_on_another_job_names_its_target_and_an_own_gate_has_none() {
        let plan = plan();
        let gates: Vec<Option<usize>> = plan
            .entries()
            .filter_map(|e| e.gate(&plan))
            .map(|g| g.target)
            .collect();
        assert_eq!(gates, [Some(3), None]);
    }

    #[test]
    fn a_gate_in_a_plan_with_one_target_watches_that_target() {
        let plan = load_str(
            "t.yaml",
            "version: 1\ntargets:\n  - name: only\n    account_id: \"111122223333\"\n    region: us-east-1\njobs:\n  - name: a\n    job_id: \"abcde\"\n    wait_for: { job: fghij, status: Complete }\n    set: Ready\n",
        )
        .unwrap()
        .plan;
        let entry = plan.entries().next().unwrap();
        assert_eq!(entry.gate(&plan).unwrap().target, Some(0));
        assert_eq!(entry.target_indexes(&plan), [0]);
    }

    #[test]
    fn role_arns_are_taken_apart_or_refused_with_the_reason() {
        for (arn, account) in [
            (
                "arn:aws:iam::444455556666:role/s3plan-operator",
                Ok("444455556666"),
            ),
            (
                "arn:aws-us-gov:iam::444455556666:role/ops/s3plan",
                Ok("444455556666"),
            ),
            (
                "arn:aws:iam::444455556666:user/bob",
                Err("does not name a role"),
            ),
            (
                "arn:aws:sts::444455556666:role/x",
                Err("does not name an IAM"),
            ),
            (
                "arn:aws:iam:us-east-1:444455556666:role/x",
                Err("names a region"),
            ),
            ("arn:aws:iam::4444:role/x", Err("does not name a 12-digit")),
            (
                "arn:aws:iam::444455556666:role/",
                Err("has no valid role name"),
            ),
            ("s3plan-operator", Err("is not `arn:")),
        ] {
            let got = parse_role_arn(arn).map(|a| a.account);
            match (got, account) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{arn}"),
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{arn}: {got}"),
                (got, want) => panic!("{arn}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn region_names_have_the_aws_shape() {
        for good in ["us-east-1", "eu-west-1", "us-gov-west-1", "ap-southeast-3"] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in [
            "us-east1",
            "US-EAST-1",
            "useast-1",
            "us--1",
            "",
            "us-east-",
            "us-east-1a",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }
}
