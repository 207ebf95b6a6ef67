//! Every kind of plan problem and its text: message, label, help, code and severity, all in one place.
//!
//! Owns the wording (just's `compile_error_kind.rs` pattern): checks build a [`DiagnosticKind`] and a span,
//! never a string. Does not own spans or rendering (`diagnostic.rs`).

use std::fmt::Write as _;

/// What is wrong (or worth a warning) in a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum DiagnosticKind {
    /// The file could not be read.
    Unreadable {
        /// The OS error.
        error: String,
    },
    /// The file is bigger than the plan size limit.
    FileTooLarge {
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file holds NUL bytes or other binary content.
    Binary,
    /// The file is not UTF-8 text.
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The file holds nothing but whitespace and comments.
    Empty,
    /// The YAML itself does not parse.
    Syntax {
        /// The parser's message.
        message: String,
    },
    /// The YAML exceeds a parsing budget (alias bomb, deep nesting, too many nodes).
    TooComplex {
        /// The parser's message.
        message: String,
    },
    /// More than one YAML document in the file.
    MultipleDocuments,
    /// The top level is not a map.
    NotAMap {
        /// What it is instead.
        found: &'static str,
    },
    /// A key appears twice in one map.
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A key the format does not know.
    UnknownKey {
        /// The key as written.
        key: String,
        /// The closest known key.
        suggestion: Option<String>,
        /// All keys allowed here.
        expected: Vec<String>,
    },
    /// A required key is missing.
    MissingKey {
        /// The key.
        key: String,
    },
    /// A value of the wrong type.
    WrongType {
        /// What the schema wants ("a string").
        expected: String,
        /// What the file has ("an integer").
        found: &'static str,
        /// A fix, when one is known.
        hint: Option<String>,
    },
    /// A value outside a fixed set of names.
    UnknownValue {
        /// What the value names ("job status", "operation").
        what: String,
        /// The value as written.
        value: String,
        /// The closest allowed value.
        suggestion: Option<String>,
        /// Every allowed value.
        allowed: Vec<String>,
    },
    /// A list that must not be empty is.
    EmptyList,
    /// An integer too large for any field.
    IntegerTooLarge,
    /// A job id breaks the API's pattern.
    InvalidJobId {
        /// The value.
        value: String,
    },
    /// An account id is not 12 digits.
    InvalidAccountId {
        /// The value.
        value: String,
    },
    /// A duration humantime cannot read.
    InvalidDuration {
        /// The value.
        value: String,
        /// humantime's reason.
        reason: String,
    },
    /// A timestamp that is not RFC 3339.
    InvalidTimestamp {
        /// The value.
        value: String,
        /// jiff's reason.
        reason: String,
    },
    /// `version` is not 1.
    UnsupportedVersion {
        /// The version written.
        found: String,
    },
    /// An entry name outside `[a-z0-9_-]+`.
    InvalidName {
        /// The name.
        name: String,
    },
    /// Two entries share a name.
    DuplicateName {
        /// The name.
        name: String,
    },
    /// `jobs` is empty.
    NoEntries,
    /// An entry has none of `job_id`, `job_ids`, `select`.
    NoJobSet,
    /// An entry has more than one of `job_id`, `job_ids`, `select`.
    SeveralJobSets {
        /// The keys given.
        keys: Vec<&'static str>,
    },
    /// An entry has neither `set` nor `priority`, nor a gate (which would make it a checkpoint).
    NoAction,
    /// A selector without any filter and without `all: true`.
    SelectorWithoutFilter,
    /// `all: true` next to filters.
    SelectorAllWithFilters,
    /// `all: false`.
    SelectorAllFalse,
    /// `max_jobs` without `select`.
    MaxJobsWithoutSelect,
    /// A number or duration out of its range.
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value as shown.
        value: String,
        /// The accepted range as shown.
        range: String,
    },
    /// A reason that is empty or longer than the API allows.
    ReasonLength {
        /// Its length in characters.
        chars: usize,
    },
    /// `after` names no entry.
    UnknownAfter {
        /// The name.
        name: String,
        /// The closest entry name.
        suggestion: Option<String>,
    },
    /// `after` names the entry itself.
    AfterSelf,
    /// `after` forms a cycle.
    Cycle {
        /// The entries in the cycle, the first repeated at the end.
        path: Vec<String>,
    },
    /// The same job is asked to become two different statuses.
    ConflictingTargets {
        /// The job.
        job: String,
        /// This entry's target.
        this: String,
        /// The other entry.
        other_entry: String,
        /// The other entry's target.
        other: String,
    },
    /// The same job listed twice in one entry.
    DuplicateJobId {
        /// The job.
        job: String,
    },
    /// A description glob or regex that does not compile.
    InvalidPattern {
        /// Glob or regex.
        syntax: &'static str,
        /// The compiler's reason.
        reason: String,
    },
    /// `created_after` is not before `created_before`.
    EmptyTimeRange,
    /// Selector `priority.min` > `priority.max`.
    EmptyPriorityRange {
        /// min.
        min: i64,
        /// max.
        max: i64,
    },
    /// A tag key of the wrong length.
    TagKeyLength {
        /// Its length.
        chars: usize,
    },
    /// A tag value too long.
    TagValueLength {
        /// Its length.
        chars: usize,
    },
    /// More tags than a job can carry.
    TooManyTags {
        /// How many.
        count: usize,
    },
    /// A structurally sound plan the model could not read: a bug in s3plan.
    Internal {
        /// The deserializer's message.
        message: String,
    },
    /// `max_failure_rate` is not a percentage such as `1%`.
    InvalidPercent {
        /// The value as written.
        value: String,
    },
    /// A task condition on a gate whose statuses are all ones a job passes before it has run to its end,
    /// so the condition would judge a job whose tasks are not done.
    TaskConditionWithoutEnd {
        /// The statuses waited for.
        statuses: String,
    },
    /// A target name outside `[a-z0-9_-]+`.
    InvalidTargetName {
        /// The name.
        name: String,
    },
    /// Two targets share a name (as written, or once `regions` is expanded).
    DuplicateTargetName {
        /// The name.
        name: String,
    },
    /// Two targets act in the same account and region, so the same jobs would be acted on twice.
    DuplicateTargetPlace {
        /// The account.
        account_id: String,
        /// The region.
        region: String,
        /// The other target.
        other: String,
    },
    /// A target with neither `region` nor `regions`, or with both.
    TargetRegions {
        /// Whether both are given (else neither is).
        both: bool,
    },
    /// A region listed twice in one target's `regions`.
    DuplicateRegion {
        /// The region.
        region: String,
    },
    /// A region name without the shape of an AWS region.
    InvalidRegion {
        /// The region.
        region: String,
    },
    /// A target with both `profile` and `role_arn`.
    SeveralCredentials,
    /// A `role_arn` that is not an IAM role ARN.
    InvalidRoleArn {
        /// The value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `role_arn` in another account than the target's `account_id`.
    RoleArnAccount {
        /// The ARN's account.
        arn_account: String,
        /// The target's account.
        account_id: String,
    },
    /// Top-level `account_id` or `region` beside `targets`.
    PlaceBesideTargets {
        /// The key.
        key: &'static str,
    },
    /// An entry's `targets` or a gate's `target` in a plan without `targets`.
    TargetsWithoutPlanTargets {
        /// The key (`targets` or `target`).
        key: &'static str,
    },
    /// An entry's `targets` or a gate's `target` names no target or group of the plan.
    UnknownTarget {
        /// The name.
        name: String,
        /// The closest known name.
        suggestion: Option<String>,
        /// Every target and group name of the plan.
        known: Vec<String>,
    },
    /// Job ids (an entry's `job_id`/`job_ids`, a gate's `job`) meaning other than exactly one target.
    JobIdTargets {
        /// What names the ids (`job_id`, `job_ids`, `wait_for.job`).
        key: &'static str,
        /// The targets they would be looked up in.
        targets: Vec<String>,
    },
    /// A gate's `target` without `job` (the entry's own jobs are in the entry's targets).
    GateTargetWithoutJob,
    /// A gate that makes the entry's change impossible (a warning).
    PointlessGate {
        /// The status waited for.
        status: String,
        /// What the entry does.
        action: String,
        /// Why it cannot happen.
        why: &'static str,
    },
}

/// Whether a problem fails validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails validation (exit 2).
    Error,
    /// Printed, but the plan is valid.
    Warning,
}

impl DiagnosticKind {
    /// Errors fail validation; warnings are only printed.
    pub fn severity(&self) -> Severity {
        match self {
            Self::PointlessGate { .. } | Self::DuplicateJobId { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// A stable code for editors and CI (`s3plan::plan::unknown_key`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "s3plan::plan::unreadable",
            Self::FileTooLarge { .. } => "s3plan::plan::file_too_large",
            Self::Binary => "s3plan::plan::binary",
            Self::NotUtf8 { .. } => "s3plan::plan::not_utf8",
            Self::Empty => "s3plan::plan::empty",
            Self::Syntax { .. } => "s3plan::plan::syntax",
            Self::TooComplex { .. } => "s3plan::plan::too_complex",
            Self::MultipleDocuments => "s3plan::plan::multiple_documents",
            Self::NotAMap { .. } => "s3plan::plan::not_a_map",
            Self::DuplicateKey { .. } => "s3plan::plan::duplicate_key",
            Self::UnknownKey { .. } => "s3plan::plan::unknown_key",
            Self::MissingKey { .. } => "s3plan::plan::missing_key",
            Self::WrongType { .. } => "s3plan::plan::wrong_type",
            Self::UnknownValue { .. } => "s3plan::plan::unknown_value",
            Self::EmptyList => "s3plan::plan::empty_list",
            Self::IntegerTooLarge => "s3plan::plan::integer_too_large",
            Self::InvalidJobId { .. } => "s3plan::plan::invalid_job_id",
            Self::InvalidAccountId { .. } => "s3plan::plan::invalid_account_id",
            Self::InvalidDuration { .. } => "s3plan::plan::invalid_duration",
            Self::InvalidTimestamp { .. } => "s3plan::plan::invalid_timestamp",
            Self::UnsupportedVersion { .. } => "s3plan::plan::unsupported_version",
            Self::InvalidName { .. } => "s3plan::plan::invalid_name",
            Self::DuplicateName { .. } => "s3plan::plan::duplicate_name",
            Self::NoEntries => "s3plan::plan::no_entries",
            Self::NoJobSet => "s3plan::plan::no_job_set",
            Self::SeveralJobSets { .. } => "s3plan::plan::several_job_sets",
            Self::NoAction => "s3plan::plan::no_action",
            Self::SelectorWithoutFilter => "s3plan::plan::selector_without_filter",
            Self::SelectorAllWithFilters => "s3plan::plan::selector_all_with_filters",
            Self::SelectorAllFalse => "s3plan::plan::selector_all_false",
            Self::MaxJobsWithoutSelect => "s3plan::plan::max_jobs_without_select",
            Self::OutOfRange { .. } => "s3plan::plan::out_of_range",
            Self::ReasonLength { .. } => "s3plan::plan::reason_length",
            Self::UnknownAfter { .. } => "s3plan::plan::unknown_after",
            Self::AfterSelf => "s3plan::plan::after_self",
            Self::Cycle { .. } => "s3plan::plan::cycle",
            Self::ConflictingTargets { .. } => "s3plan::plan::conflicting_targets",
            Self::DuplicateJobId { .. } => "s3plan::plan::duplicate_job_id",
            Self::InvalidPattern { .. } => "s3plan::plan::invalid_pattern",
            Self::EmptyTimeRange => "s3plan::plan::empty_time_range",
            Self::EmptyPriorityRange { .. } => "s3plan::plan::empty_priority_range",
            Self::TagKeyLength { .. } => "s3plan::plan::tag_key_length",
            Self::TagValueLength { .. } => "s3plan::plan::tag_value_length",
            Self::TooManyTags { .. } => "s3plan::plan::too_many_tags",
            Self::PointlessGate { .. } => "s3plan::plan::pointless_gate",
            Self::InvalidPercent { .. } => "s3plan::plan::invalid_percent",
            Self::TaskConditionWithoutEnd { .. } => "s3plan::plan::task_condition_without_end",
            Self::Internal { .. } => "s3plan::plan::internal",
            Self::InvalidTargetName { .. } => "s3plan::plan::invalid_target_name",
            Self::DuplicateTargetName { .. } => "s3plan::plan::duplicate_target_name",
            Self::DuplicateTargetPlace { .. } => "s3plan::plan::duplicate_target_place",
            Self::TargetRegions { .. } => "s3plan::plan::target_regions",
            Self::DuplicateRegion { .. } => "s3plan::plan::duplicate_region",
            Self::InvalidRegion { .. } => "s3plan::plan::invalid_region",
            Self::SeveralCredentials => "s3plan::plan::several_credentials",
            Self::InvalidRoleArn { .. } => "s3plan::plan::invalid_role_arn",
            Self::RoleArnAccount { .. } => "s3plan::plan::role_arn_account",
            Self::PlaceBesideTargets { .. } => "s3plan::plan::place_beside_targets",
            Self::TargetsWithoutPlanTargets { .. } => "s3plan::plan::targets_without_plan_targets",
            Self::UnknownTarget { .. } => "s3plan::plan::unknown_target",
            Self::JobIdTargets { .. } => "s3plan::plan::job_id_targets",
            Self::GateTargetWithoutJob => "s3plan::plan::gate_target_without_job",
        }
    }

    /// The one-line message: lower case, no final period.
    pub fn message(&self) -> String {
        match self {
            Self::Unreadable { error } => format!("cannot read the plan: {error}"),
            Self::FileTooLarge { size, limit } => format!(
                "the plan is {} MiB; plans over {} MiB are refused before parsing",
                size.div_ceil(1024 * 1024),
                limit / (1024 * 1024)
            ),
            Self::Binary => "the plan is a binary file (it contains NUL bytes)".to_owned(),
            Self::NotUtf8 { offset } => {
                format!("the plan is not UTF-8 text (invalid bytes at byte offset {offset})")
            }
            Self::Empty => "the plan is empty".to_owned(),
            Self::Syntax { message } => format!("invalid YAML: {message}"),
            Self::TooComplex { message } => {
                format!("the YAML is too complex to read safely: {message}")
            }
            Self::MultipleDocuments => "the plan holds more than one YAML document".to_owned(),
            Self::NotAMap { found } => format!("a plan must be a map of keys, found {found}"),
            Self::DuplicateKey { key } => format!("duplicate key `{key}`"),
            Self::UnknownKey { key, .. } => format!("unknown key `{key}`"),
            Self::MissingKey { key } => format!("missing required key `{key}`"),
            Self::WrongType {
                expected, found, ..
            } => format!("expected {expected}, found {found}"),
            Self::UnknownValue { what, value, .. } => format!("`{value}` is not a valid {what}"),
            Self::EmptyList => "the list is empty".to_owned(),
            Self::IntegerTooLarge => "the integer is too large".to_owned(),
            Self::InvalidJobId { value } => {
                format!("job id `{value}` is not 5 to 36 characters of letters, digits, `-` or `_`")
            }
            Self::InvalidAccountId { value } => {
                format!("account id `{value}` is not 12 digits")
            }
            Self::InvalidDuration { value, reason } => {
                format!("`{value}` is not a duration: {reason}")
            }
            Self::InvalidTimestamp { value, reason } => {
                format!("`{value}` is not an RFC 3339 time: {reason}")
            }
            Self::UnsupportedVersion { found } => {
                format!("plan version {found} is not supported; this s3plan reads version 1")
            }
            Self::InvalidName { name } => {
                format!("entry name `{name}` is not made of `a-z`, `0-9`, `-` and `_`")
            }
            Self::DuplicateName { name } => format!("entry name `{name}` is used twice"),
            Self::NoEntries => "the plan has no entries in `jobs`".to_owned(),
            Self::NoJobSet => "the entry names no jobs".to_owned(),
            Self::SeveralJobSets { keys } => {
                let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
                format!("the entry names its jobs twice: {}", keys.join(" and "))
            }
            Self::NoAction => "the entry neither changes nor waits for anything".to_owned(),
            Self::SelectorWithoutFilter => "the selector has no filter".to_owned(),
            Self::SelectorAllWithFilters => {
                "`all: true` cannot be combined with filters".to_owned()
            }
            Self::SelectorAllFalse => "`all: false` is not allowed".to_owned(),
            Self::MaxJobsWithoutSelect => "`max_jobs` only applies to `select`".to_owned(),
            Self::OutOfRange {
                field,
                value,
                range,
            } => format!("`{field}` is {value}, outside {range}"),
            Self::ReasonLength { chars } => {
                format!("the reason is {chars} characters; the API takes 1 to 256")
            }
            Self::UnknownAfter { name, .. } => format!("`after` names unknown entry `{name}`"),
            Self::AfterSelf => "an entry cannot run after itself".to_owned(),
            Self::Cycle { path } => format!("`after` forms a cycle: {}", path.join(" -> ")),
            Self::ConflictingTargets {
                job,
                this,
                other_entry,
                other,
            } => format!(
                "job `{job}` is set to `{this}` here and to `{other}` by entry `{other_entry}`"
            ),
            Self::DuplicateJobId { job } => format!("job `{job}` is listed twice"),
            Self::InvalidPattern { syntax, reason } => {
                format!("the description {syntax} does not compile: {reason}")
            }
            Self::EmptyTimeRange => "`created_after` is not before `created_before`".to_owned(),
            Self::EmptyPriorityRange { min, max } => {
                format!("priority range is empty: min {min} is above max {max}")
            }
            Self::TagKeyLength { chars } => {
                format!("the tag key is {chars} characters; the API takes 1 to 128")
            }
            Self::TagValueLength { chars } => {
                format!("the tag value is {chars} characters; the API takes at most 256")
            }
            Self::TooManyTags { count } => {
                format!("{count} tags asked for; a job carries at most 50")
            }
            Self::PointlessGate {
                status,
                action,
                why,
            } => format!("waiting for `{status}` makes `{action}` pointless: {why}"),
            Self::InvalidPercent { value } => {
                format!("`{value}` is not a percentage such as `1%` or `0.5%`")
            }
            Self::TaskConditionWithoutEnd { statuses } => format!(
                "a task condition on a gate waiting for {statuses} judges tasks that have not all run: \
                 none of these statuses is one a job ends in"
            ),
            Self::Internal { message } => {
                format!("s3plan could not read a plan it found sound (a bug): {message}")
            }
            Self::InvalidTargetName { name } => {
                format!("target name `{name}` is not made of `a-z`, `0-9`, `-` and `_`")
            }
            Self::DuplicateTargetName { name } => format!("target name `{name}` is used twice"),
            Self::DuplicateTargetPlace {
                account_id,
                region,
                other,
            } => format!(
                "account {account_id} in {region} is already target `{other}`; its jobs would be acted on twice"
            ),
            Self::TargetRegions { both: true } => {
                "the target has both `region` and `regions`".to_owned()
            }
            Self::TargetRegions { both: false } => "the target names no region".to_owned(),
            Self::DuplicateRegion { region } => format!("region `{region}` is listed twice"),
            Self::InvalidRegion { region } => {
                format!("`{region}` is not an AWS region name")
            }
            Self::SeveralCredentials => "the target has both `profile` and `role_arn`".to_owned(),
            Self::InvalidRoleArn { value, reason } => {
                format!("role ARN `{value}` {reason}")
            }
            Self::RoleArnAccount {
                arn_account,
                account_id,
            } => format!(
                "the role is in account {arn_account}, but the target's `account_id` is {account_id}"
            ),
            Self::PlaceBesideTargets { key } => {
                format!("top-level `{key}` cannot be combined with `targets`")
            }
            Self::TargetsWithoutPlanTargets { key } => {
                format!("`{key}` names a target, but the plan has no `targets`")
            }
            Self::UnknownTarget { name, .. } => format!("unknown target `{name}`"),
            Self::JobIdTargets { key, targets } => {
                if targets.is_empty() {
                    format!(
                        "`{key}` names jobs in no target; a job id belongs to exactly one target"
                    )
                } else {
                    let names: Vec<String> = targets.iter().map(|t| format!("`{t}`")).collect();
                    format!(
                        "`{key}` would be looked up in {} targets ({}); a job id belongs to exactly one target",
                        targets.len(),
                        names.join(", ")
                    )
                }
            }
            Self::GateTargetWithoutJob => {
                "`target` without `job`: the gate watches the entry's own jobs".to_owned()
            }
        }
    }

    /// The text under the snippet's marker.
    pub fn label(&self) -> &'static str {
        match self {
            Self::DuplicateKey { .. } => "repeated here",
            Self::UnknownKey { .. } => "not a key here",
            Self::MissingKey { .. } => "in this map",
            Self::WrongType { .. } => "wrong type",
            Self::UnknownValue { .. } => "unknown value",
            Self::DuplicateName { .. } => "used again here",
            Self::ConflictingTargets { .. } => "conflicting target",
            Self::Cycle { .. } => "part of the cycle",
            Self::OutOfRange { .. } => "out of range",
            Self::PointlessGate { .. } => "this gate",
            Self::SeveralJobSets { .. } => "second job set",
            Self::InvalidPercent { .. } => "not a percentage",
            Self::TaskConditionWithoutEnd { .. } => "no end status here",
            Self::NoJobSet | Self::NoAction => "this entry",
            Self::DuplicateTargetName { .. } => "used again here",
            Self::DuplicateTargetPlace { .. } => "same account and region",
            Self::TargetRegions { .. } | Self::SeveralCredentials => "this target",
            Self::DuplicateRegion { .. } => "listed again here",
            Self::RoleArnAccount { .. } => "another account",
            Self::UnknownTarget { .. } => "not a target of this plan",
            Self::JobIdTargets { .. } => "these job ids",
            _ => "here",
        }
    }

    /// The label of the secondary span, when the diagnostic has one.
    pub fn other_label(&self) -> &'static str {
        match self {
            Self::DuplicateKey { .. } => "first here",
            Self::DuplicateName { .. } => "first used here",
            Self::ConflictingTargets { .. } => "other target",
            Self::EmptyTimeRange => "created_before",
            Self::EmptyPriorityRange { .. } => "max",
            Self::DuplicateTargetName { .. } => "first used here",
            Self::DuplicateTargetPlace { .. } => "first here",
            Self::DuplicateRegion { .. } => "first here",
            Self::RoleArnAccount { .. } => "account_id",
            _ => "related",
        }
    }

    /// How to fix it, when known.
    pub fn help(&self) -> Option<String> {
        let text = match self {
            Self::Unreadable { .. } => "check the path and its permissions".to_owned(),
            Self::FileTooLarge { .. } => {
                "split the plan, or use `select` instead of listing every job id".to_owned()
            }
            Self::Binary | Self::NotUtf8 { .. } => {
                "a plan is a YAML text file in UTF-8; check that this is the file you meant"
                    .to_owned()
            }
            Self::Empty => "start from one of the files in examples/ (see docs/plan.md)".to_owned(),
            Self::TooComplex { .. } => {
                "plans need no deep nesting, aliases or anchors; write the values out".to_owned()
            }
            Self::MultipleDocuments => {
                "put one plan per file; remove the `---` separators".to_owned()
            }
            Self::DuplicateKey { .. } => "remove one of the two".to_owned(),
            Self::UnknownKey {
                suggestion,
                expected,
                ..
            } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("expected one of: {}", expected.join(", ")),
            },
            Self::MissingKey { key } => format!("add `{key}:`"),
            Self::WrongType { hint, .. } => return hint.clone(),
            Self::UnknownValue {
                suggestion,
                allowed,
                ..
            } => {
                let mut text = String::new();
                if let Some(s) = suggestion {
                    let _ = write!(text, "did you mean `{s}`? ");
                }
                let _ = write!(text, "expected one of: {}", allowed.join(", "));
                text
            }
            Self::EmptyList => "list at least one value, or remove the key".to_owned(),
            Self::IntegerTooLarge => "use a value that fits in 64 bits".to_owned(),
            Self::InvalidJobId { .. } => {
                "job ids look like `93735294-df46-44d5-8638-6356f335324e`".to_owned()
            }
            Self::InvalidAccountId { .. } => {
                "write the 12 digits in quotes, e.g. `account_id: \"111122223333\"`".to_owned()
            }
            Self::InvalidDuration { .. } => {
                "write a number and a unit, e.g. `500ms`, `10s`, `30m`, `2h`".to_owned()
            }
            Self::InvalidTimestamp { .. } => "write e.g. `2026-11-28T00:00:00Z`".to_owned(),
            Self::UnsupportedVersion { .. } => "write `version: 1`".to_owned(),
            Self::InvalidName { name } => {
                let fixed: String = name
                    .to_lowercase()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect();
                format!("e.g. `{fixed}`")
            }
            Self::DuplicateName { .. } => "give each entry its own name".to_owned(),
            Self::NoEntries => "add at least one entry under `jobs:`".to_owned(),
            Self::NoJobSet | Self::SeveralJobSets { .. } => {
                "give exactly one of `job_id`, `job_ids` or `select`".to_owned()
            }
            Self::NoAction => {
                "add `set: Ready`, `set: Cancelled` or `priority: N`, or a `wait_for` to make it a checkpoint"
                    .to_owned()
            }
            Self::SelectorWithoutFilter => {
                "add a filter, or write `all: true` to mean every job in the account".to_owned()
            }
            Self::SelectorAllWithFilters => "remove `all: true` or the filters".to_owned(),
            Self::SelectorAllFalse => "remove `all: false`".to_owned(),
            Self::MaxJobsWithoutSelect => "remove `max_jobs`".to_owned(),
            Self::ReasonLength { chars: 0 } => "write why, or remove the key".to_owned(),
            Self::ReasonLength { .. } => "shorten the reason to at most 256 characters".to_owned(),
            Self::UnknownAfter { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => "name an entry of this plan".to_owned(),
            },
            Self::AfterSelf => "remove the entry's own name from `after`".to_owned(),
            Self::Cycle { .. } => "remove one `after` link of the cycle".to_owned(),
            Self::ConflictingTargets { .. } => {
                "a job can only be confirmed or cancelled; remove it from one entry".to_owned()
            }
            Self::DuplicateJobId { .. } => "remove the repeat".to_owned(),
            Self::InvalidPattern { syntax, .. } => {
                if *syntax == "regex" {
                    "check the regex syntax (https://docs.rs/regex)".to_owned()
                } else {
                    "globs use `*`, `?`, `[abc]` and `{a,b}`; prefix `regex:` for a regex"
                        .to_owned()
                }
            }
            Self::EmptyTimeRange | Self::EmptyPriorityRange { .. } => "swap the bounds".to_owned(),
            Self::PointlessGate { .. } => {
                "wait for a status the job can still leave, or remove the gate".to_owned()
            }
            Self::InvalidPercent { .. } => {
                "write a number from 0 to 100 with at most two decimals, then `%`: `1%`, `0.5%`"
                    .to_owned()
            }
            Self::TaskConditionWithoutEnd { .. } => {
                "add the status the job ends in, e.g. `status: Complete`, so the condition is judged on the finished job"
                    .to_owned()
            }
            Self::Internal { .. } => "please report this with the plan file attached".to_owned(),
            Self::InvalidTargetName { name } => {
                let fixed: String = name
                    .to_lowercase()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect();
                if name.contains('/') {
                    "name the target once and list its regions under `regions:`; its targets are then `NAME/REGION`"
                        .to_owned()
                } else {
                    format!("e.g. `{fixed}`")
                }
            }
            Self::DuplicateTargetName { .. } => {
                "give each target its own name; `regions:` names its targets `NAME/REGION`".to_owned()
            }
            Self::DuplicateTargetPlace { .. } => {
                "keep one target per account and region; entries choose among them with `targets:`"
                    .to_owned()
            }
            Self::TargetRegions { both: true } => {
                "keep `region: R` for one region or `regions: [R1, R2]` for several".to_owned()
            }
            Self::TargetRegions { both: false } => {
                "add `region: us-east-1`, or `regions: [us-east-1, us-west-2]`".to_owned()
            }
            Self::DuplicateRegion { .. } => "remove the repeat".to_owned(),
            Self::InvalidRegion { .. } => {
                "write the region's code, e.g. `us-east-1`, `eu-west-1`".to_owned()
            }
            Self::SeveralCredentials => {
                "keep `profile` to use a named profile, or `role_arn` to assume a role from the base credentials"
                    .to_owned()
            }
            Self::InvalidRoleArn { .. } => {
                "write e.g. `arn:aws:iam::444455556666:role/s3plan-operator`".to_owned()
            }
            Self::RoleArnAccount { .. } => {
                "assume a role in the target's own account, or fix `account_id`".to_owned()
            }
            Self::PlaceBesideTargets { .. } => {
                "put the account and region in the targets (`targets: [{name, account_id, region}]`)"
                    .to_owned()
            }
            Self::TargetsWithoutPlanTargets { key: "target" } => {
                "remove `target`; the plan acts in one account and region".to_owned()
            }
            Self::TargetsWithoutPlanTargets { .. } => {
                "remove `targets`, or list the plan's accounts and regions under a top-level `targets:`"
                    .to_owned()
            }
            Self::UnknownTarget {
                suggestion, known, ..
            } => match suggestion {
                Some(s) => format!("did you mean `{s}`? known targets: {}", known.join(", ")),
                None => format!("known targets: {}", known.join(", ")),
            },
            Self::JobIdTargets {
                key: "wait_for.job",
                ..
            } => "add `target: NAME` to the gate: the one target the watched job is in".to_owned(),
            Self::JobIdTargets { .. } => {
                "run the entry in the one target the job is in, e.g. `targets: [prod-us]`".to_owned()
            }
            Self::GateTargetWithoutJob => {
                "remove `target`, or add the `job` to watch; an entry's own jobs run in its `targets`"
                    .to_owned()
            }
            Self::OutOfRange { .. }
            | Self::Syntax { .. }
            | Self::NotAMap { .. }
            | Self::TagKeyLength { .. }
            | Self::TagValueLength { .. }
            | Self::TooManyTags { .. } => return None,
        };
        Some(text)
    }
}
