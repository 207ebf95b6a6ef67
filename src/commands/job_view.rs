//! What `s3plan jobs` prints: the table (with a watch round's change marks), the JSON with the API's
//! field names, the ids, and the full description of one job.
//!
//! Pure functions of what was read and the current time; never calls the API.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::api::{JobDescription, JobId, JobStatus, JobSummary, Tag};
use crate::resolved::Target;

/// The shortest `--watch` interval: below it a round is mostly drawing.
pub(crate) const MIN_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The fewest description characters a table row shows, however narrow the terminal.
const MIN_DESCRIPTION: usize = 16;

/// A job to show, with its tags when `--tags` asked for them.
pub(crate) struct Row {
    /// What ListJobs said.
    pub job: JobSummary,
    /// Its tags, when read.
    pub tags: Option<Vec<Tag>>,
    /// The target it was listed in, with `--targets-from`.
    pub target: Option<Target>,
}

/// What a watch round showed, by target name (none without `--targets-from`) and job id: a job id is only
/// unique within its account and region.
pub(crate) type Seen = HashMap<(Option<String>, JobId), JobSummary>;

/// A row's key in [`Seen`].
pub(crate) fn row_key(row: &Row) -> (Option<String>, JobId) {
    (row.target.as_ref().map(Target::label), row.job.id.clone())
}

/// One job described in full (`jobs JOB_ID`), with its tags and the target it was found in.
pub(crate) struct Described {
    /// What DescribeJob said.
    pub description: JobDescription,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// The target it was found in, with `--targets-from`.
    pub target: Option<Target>,
}

/// One listing to draw.
pub(crate) struct Round<'a> {
    /// The rows shown, newest first.
    pub rows: &'a [Row],
    /// How many jobs matched (more than `rows` under `--limit`).
    pub total: usize,
    /// What the previous watch round showed, to mark changes; `None` outside a watch (or its first round).
    pub previous: Option<&'a Seen>,
    /// The time relative ages are counted from.
    pub now: Timestamp,
    /// The targets listed, in plan order (a TARGET column and a count per target); empty without
    /// `--targets-from`.
    pub targets: Vec<String>,
}

/// The width to cut the table to: the terminal's, else `COLUMNS`, else none (a pipe gets whole lines).
pub(crate) fn terminal_width() -> Option<usize> {
    if let Some((_, columns)) = console::Term::stdout().size_checked() {
        return Some(usize::from(columns));
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|c: &usize| *c > 0)
}

/// The table: a mark column in a watch, the target with `--targets-from`, id, status, priority, operation, created (relative and
/// absolute), tasks, tags when read, and the description last, cut to `width`; then a footer counting
/// jobs per status.
pub(crate) fn table(round: &Round<'_>, width: Option<usize>) -> String {
    let watching = round.previous.is_some();
    let with_tags = round.rows.iter().any(|row| row.tags.is_some());
    let with_targets = !round.targets.is_empty();
    let mut header = Vec::new();
    if watching {
        header.push(String::new());
    }
    if with_targets {
        header.push("TARGET".to_owned());
    }
    header.extend(
        [
            "JOB ID",
            "STATUS",
            "PRIORITY",
            "OPERATION",
            "CREATED",
            "TASKS (ok/failed/total)",
        ]
        .map(str::to_owned),
    );
    if with_tags {
        header.push("TAGS".to_owned());
    }
    header.push("DESCRIPTION".to_owned());

    let mut lines: Vec<Vec<String>> = vec![header];
    for row in round.rows {
        let job = &row.job;
        let mut cells = Vec::new();
        let before = round
            .previous
            .and_then(|previous| previous.get(&row_key(row)));
        if watching {
            cells.push(mark(job, before).to_owned());
        }
        if with_targets {
            cells.push(row.target.as_ref().map(Target::label).unwrap_or_default());
        }
        let status = match before {
            Some(old) if old.status != job.status => format!("{} (was {})", job.status, old.status),
            _ => job.status.to_string(),
        };
        cells.push(job.id.to_string());
        cells.push(status);
        cells.push(job.priority.to_string());
        cells.push(job.operation.clone().unwrap_or_else(|| "-".to_owned()));
        cells.push(match job.creation_time {
            Some(time) => format!("{:>8}  {}", ago(round.now, time), absolute(time)),
            None => "-".to_owned(),
        });
        cells.push(tasks(job));
        if with_tags {
            cells.push(row.tags.as_deref().map(tags_text).unwrap_or_default());
        }
        cells.push(job.description.clone().unwrap_or_default());
        lines.push(cells);
    }

    let columns = lines[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Only the description is cut: every other column is needed to act on a job. It keeps at least
    // MIN_DESCRIPTION characters, even when that makes the line wider than the terminal.
    let prefix: usize = widths[..columns - 1].iter().map(|w| w + 2).sum();
    let description_width = width.map(|w| w.saturating_sub(prefix).max(MIN_DESCRIPTION));
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (c, cell) in line.iter().enumerate() {
            if c + 1 == columns {
                text.push_str(&cut(cell, description_width));
            } else {
                let pad = widths[c] - cell.chars().count();
                // Numbers read best right-aligned.
                if lines[0][c] == "PRIORITY" && !std::ptr::eq(line, &lines[0]) {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad));
                }
                text.push_str("  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    if round.rows.is_empty() {
        out.push_str("(no job matches)\n");
    }
    out.push('\n');
    out.push_str(&footer(round));
    out
}

/// `+` new since the last round, `*` status changed, `~` tasks moved, blank otherwise.
fn mark(job: &JobSummary, before: Option<&JobSummary>) -> &'static str {
    match before {
        None => "+",
        Some(old) if old.status != job.status => "*",
        Some(old) if old.progress != job.progress || old.priority != job.priority => "~",
        Some(_) => " ",
    }
}

fn footer(round: &Round<'_>) -> String {
    let mut counts: BTreeMap<JobStatus, usize> = BTreeMap::new();
    for row in round.rows {
        *counts.entry(row.job.status).or_insert(0) += 1;
    }
    let per_status: Vec<String> = counts
        .iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect();
    let shown = round.rows.len();
    let mut text = format!(
        "{shown} job{}{}",
        if shown == 1 { "" } else { "s" },
        if per_status.is_empty() {
            String::new()
        } else {
            format!(": {}", per_status.join(", "))
        }
    );
    if round.total > shown {
        let _ = write!(
            text,
            " (the newest {shown} of {} matching; --limit)",
            round.total
        );
    }
    text.push('\n');
    if !round.targets.is_empty() {
        let per_target: Vec<String> = round
            .targets
            .iter()
            .map(|name| {
                let count = round
                    .rows
                    .iter()
                    .filter(|row| row.target.as_ref().is_some_and(|t| &t.label() == name))
                    .count();
                format!("{name} {count}")
            })
            .collect();
        let _ = writeln!(text, "per target: {}", per_target.join(", "));
    }
    if let Some(previous) = round.previous {
        let shown: Vec<(Option<String>, JobId)> = round.rows.iter().map(row_key).collect();
        let mut gone: Vec<(&(Option<String>, JobId), &JobSummary)> = previous
            .iter()
            .filter(|(key, _)| !shown.contains(key))
            .collect();
        gone.sort_by(|(a, _), (b, _)| (&a.1.as_str(), &a.0).cmp(&(&b.1.as_str(), &b.0)));
        for ((target, id), job) in gone {
            match target {
                Some(target) => {
                    let _ = writeln!(
                        text,
                        "- {id} in {target} no longer listed (was {})",
                        job.status
                    );
                }
                None => {
                    let _ = writeln!(text, "- {id} no longer listed (was {})", job.status);
                }
            }
        }
        text.push_str(
            "marks: + new since the last round, * status changed, ~ tasks or priority moved\n",
        );
    }
    text
}

/// `1200/3/5000 24%`: succeeded, failed, total, and the share of tasks done.
fn tasks(job: &JobSummary) -> String {
    let p = &job.progress;
    let done = p.succeeded_tasks.saturating_add(p.failed_tasks);
    if p.total_tasks > 0 {
        let percent = done.saturating_mul(100) / p.total_tasks;
        format!(
            "{}/{}/{} {percent}%",
            p.succeeded_tasks, p.failed_tasks, p.total_tasks
        )
    } else {
        format!("{}/{}/{}", p.succeeded_tasks, p.failed_tasks, p.total_tasks)
    }
}

fn tags_text(tags: &[Tag]) -> String {
    let mut pairs: Vec<String> = tags
        .iter()
        .map(|tag| format!("{}={}", tag.key, tag.value))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// `2026-11-29 10:00:00Z`.
pub(crate) fn absolute(time: Timestamp) -> String {
    time.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// `45s ago`, `12m ago`, `3h ago`, `2d ago` (`in 5m` for a time ahead of this machine's clock).
fn ago(now: Timestamp, then: Timestamp) -> String {
    let seconds = now.as_second() - then.as_second();
    let (amount, future) = if seconds < 0 {
        (-seconds, true)
    } else {
        (seconds, false)
    };
    let text = match amount {
        0..60 => format!("{amount}s"),
        60..3_600 => format!("{}m", amount / 60),
        3_600..172_800 => format!("{}h", amount / 3_600),
        _ => format!("{}d", amount / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// `text` cut to `width` characters, with `…` where it was cut.
fn cut(text: &str, width: Option<usize>) -> String {
    match width {
        Some(width) if text.chars().count() > width && width > 1 => {
            let mut kept: String = text.chars().take(width - 1).collect();
            kept.push('…');
            kept
        }
        _ => text.to_owned(),
    }
}

/// `--output ids`: one id a line.
pub(crate) fn ids(rows: &[Row]) -> String {
    rows.iter().map(|row| format!("{}\n", row.job.id)).collect()
}

/// `--output json` of a listing: an array with one object per job, named as ListJobs names its fields.
pub(crate) fn list_json(rows: &[Row]) -> String {
    let jobs: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut job = summary_json(&row.job);
            if let Some(tags) = &row.tags {
                job["Tags"] = tags_json(tags);
            }
            if let Some(target) = &row.target {
                place_json(&mut job, target);
            }
            job
        })
        .collect();
    pretty(&Value::Array(jobs))
}

fn summary_json(job: &JobSummary) -> Value {
    json!({
        "JobId": job.id.as_str(),
        "Description": job.description,
        "Operation": job.operation,
        "Priority": job.priority,
        "Status": job.status.as_str(),
        "CreationTime": job.creation_time.map(|t| t.to_string()),
        "TerminationDate": job.termination_date.map(|t| t.to_string()),
        "ProgressSummary": {
            "TotalNumberOfTasks": job.progress.total_tasks,
            "NumberOfTasksSucceeded": job.progress.succeeded_tasks,
            "NumberOfTasksFailed": job.progress.failed_tasks,
            "Timers": { "ElapsedTimeInActiveSeconds": job.progress.elapsed_active_seconds },
        },
    })
}

/// Where a job lives, with `--targets-from`: named as the reports name it (`target`, `account_id`,
/// `region`), beside the API's fields.
fn place_json(job: &mut Value, target: &Target) {
    job["target"] = json!(target.label());
    job["account_id"] = json!(target.account_id.as_str());
    job["region"] = json!(target.region);
}

fn tags_json(tags: &[Tag]) -> Value {
    tags.iter()
        .map(|tag| json!({ "Key": tag.key, "Value": tag.value }))
        .collect()
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// `--output json` of `jobs JOB_ID...`: an array with one object per job, named as DescribeJob names its
/// fields, with `Tags` (and, with `--targets-from`, where it was found).
pub(crate) fn describe_json(described: &[Described]) -> String {
    let jobs: Vec<Value> = described
        .iter()
        .map(|one| {
            let (description, tags) = (&one.description, &one.tags);
            let details = &description.details;
            let mut job = summary_json(&description.summary);
            job["StatusUpdateReason"] = json!(description.status_update_reason);
            job["SuspendedCause"] = json!(description.suspended_cause);
            job["SuspendedDate"] = json!(details.suspended_date.map(|t| t.to_string()));
            job["ConfirmationRequired"] = json!(description.confirmation_required);
            job["FailureReasons"] = description
                .failure_reasons
                .iter()
                .map(|reason| {
                    let (code, text) = reason.split_once(": ").unwrap_or((reason, ""));
                    json!({ "FailureCode": code, "FailureReason": text })
                })
                .collect();
            job["RoleArn"] = json!(details.role_arn);
            job["Manifest"] = json!({
                "Location": { "ObjectArn": details.manifest, "ETag": details.manifest_etag },
                "Generated": details.manifest_generated,
            });
            job["Report"] = json!({
                "Enabled": details.report.is_some(),
                "Location": details.report,
                "ReportScope": details.report_scope,
            });
            job["Tags"] = tags_json(tags);
            if let Some(target) = &one.target {
                place_json(&mut job, target);
            }
            job
        })
        .collect();
    pretty(&Value::Array(jobs))
}

/// Everything an operator needs about one job, one fact a line (first, with `--targets-from`, the target it
/// was found in).
pub(crate) fn describe_text(one: &Described, now: Timestamp) -> String {
    let (description, tags) = (&one.description, &one.tags);
    let job = &description.summary;
    let details = &description.details;
    let when = |time: Option<Timestamp>| {
        time.map_or_else(
            || "-".to_owned(),
            |t| format!("{} ({})", absolute(t), ago(now, t)),
        )
    };
    let mut text = String::new();
    let mut line = |key: &str, value: &str| {
        let _ = writeln!(text, "{key:<13} {value}");
    };
    if let Some(target) = &one.target {
        line(
            "target",
            &format!(
                "{} (account {}, {})",
                target.label(),
                target.account_id,
                target.region
            ),
        );
    }
    line("job", job.id.as_str());
    line("status", job.status.as_str());
    if let Some(reason) = &description.status_update_reason {
        line("  reason", reason);
    }
    if let Some(cause) = &description.suspended_cause {
        line(
            "  suspended",
            &format!("{cause}, since {}", when(details.suspended_date)),
        );
    }
    if let Some(required) = description.confirmation_required {
        line(
            "confirmation",
            if required { "required" } else { "not required" },
        );
    }
    line("priority", &job.priority.to_string());
    line("operation", job.operation.as_deref().unwrap_or("-"));
    line("description", job.description.as_deref().unwrap_or("-"));
    line("created", &when(job.creation_time));
    line("terminated", &when(job.termination_date));
    let p = &job.progress;
    line(
        "tasks",
        &format!(
            "{} succeeded, {} failed, of {} ({}); {}s active",
            p.succeeded_tasks,
            p.failed_tasks,
            p.total_tasks,
            tasks(job)
                .rsplit(' ')
                .next()
                .filter(|s| s.ends_with('%'))
                .unwrap_or("-"),
            p.elapsed_active_seconds
        ),
    );
    if description.failure_reasons.is_empty() {
        line("failures", "-");
    } else {
        for reason in &description.failure_reasons {
            line("failure", reason);
        }
    }
    let manifest = match (&details.manifest, details.manifest_generated) {
        (Some(arn), _) => match &details.manifest_etag {
            Some(etag) => format!("{arn} (ETag {etag})"),
            None => arn.clone(),
        },
        (None, true) => "generated by S3 (ManifestGenerator)".to_owned(),
        (None, false) => "-".to_owned(),
    };
    line("manifest", &manifest);
    let report = match (&details.report, &details.report_scope) {
        (Some(location), Some(scope)) => format!("{location} ({scope})"),
        (Some(location), None) => location.clone(),
        (None, _) => "none".to_owned(),
    };
    line("report", &report);
    line("role", details.role_arn.as_deref().unwrap_or("-"));
    line(
        "tags",
        &if tags.is_empty() {
            "-".to_owned()
        } else {
            tags_text(tags)
        },
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Progress;

    fn job(id: &str, status: JobStatus, created: &str, done: i64) -> JobSummary {
        JobSummary {
            id: JobId::parse(id).unwrap(),
            description: Some(format!("reindex-{id}-with-a-long-description")),
            operation: Some("LambdaInvoke".to_owned()),
            priority: 20,
            status,
            creation_time: Some(created.parse().unwrap()),
            termination_date: None,
            progress: Progress {
                total_tasks: 200,
                succeeded_tasks: done,
                failed_tasks: 2,
                elapsed_active_seconds: 60,
            },
        }
    }

    #[test]
    fn a_watch_round_marks_new_changed_moved_and_gone_jobs() {
        let now: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
        let previous: Seen = [
            job("job-a", JobStatus::Active, "2026-06-01T11:00:00Z", 10),
            job("job-b", JobStatus::Active, "2026-06-01T10:00:00Z", 10),
            job("job-c", JobStatus::Suspended, "2026-05-30T10:00:00Z", 0),
            job("job-d", JobStatus::Ready, "2026-05-29T10:00:00Z", 0),
        ]
        .into_iter()
        .map(|j| ((None, j.id.clone()), j))
        .collect();
        let rows = vec![
            Row {
                job: job("job-new", JobStatus::New, "2026-06-01T11:59:30Z", 0),
                tags: None,
                target: None,
            },
            Row {
                job: job("job-a", JobStatus::Cancelling, "2026-06-01T11:00:00Z", 10),
                tags: None,
                target: None,
            },
            Row {
                job: job("job-b", JobStatus::Active, "2026-06-01T10:00:00Z", 50),
                tags: None,
                target: None,
            },
            Row {
                job: job("job-c", JobStatus::Suspended, "2026-05-30T10:00:00Z", 0),
                tags: None,
                target: None,
            },
        ];
        let round = Round {
            rows: &rows,
            total: 4,
            previous: Some(&previous),
            now,
            targets: Vec::new(),
        };
        insta::assert_snapshot!(table(&round, Some(150)));
    }

    #[test]
    fn a_listing_cuts_descriptions_to_the_width_and_counts_statuses() {
        let now: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
        let rows = vec![
            Row {
                job: job("job-a", JobStatus::Active, "2026-06-01T11:00:00Z", 100),
                tags: Some(vec![Tag {
                    key: "team".into(),
                    value: "search".into(),
                }]),
                target: None,
            },
            Row {
                job: job("job-b", JobStatus::Suspended, "2026-05-01T10:00:00Z", 0),
                tags: Some(Vec::new()),
                target: None,
            },
        ];
        let round = Round {
            rows: &rows,
            total: 7,
            previous: None,
            now,
            targets: Vec::new(),
        };
        let text = table(&round, Some(140));
        assert!(text.lines().all(|l| l.chars().count() <= 140), "{text}");
        assert!(text.contains("reindex-job-a-with-a-long-…"), "{text}");
        let narrow = table(&round, Some(60));
        assert!(narrow.contains("team=search"), "{narrow}");
        assert!(narrow.contains("reindex-job-a-w…"), "{narrow}");
        insta::assert_snapshot!(text);
    }

    fn target(name: &str, account: &str, region: &str) -> Target {
        Target {
            name: Some(name.to_owned()),
            account_id: crate::api::AccountId::parse(account).unwrap(),
            region: region.to_owned(),
            endpoint: None,
        }
    }

    #[test]
    fn rows_across_targets_name_their_target_in_the_table_json_and_watch_marks() {
        let now: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
        let us = target("prod/us-east-1", "111122223333", "us-east-1");
        let dr = target("dr", "444455556666", "us-west-2");
        // The same id in two targets: two jobs, marked apart.
        let rows = vec![
            Row {
                job: job("job-a", JobStatus::Cancelling, "2026-06-01T11:00:00Z", 10),
                tags: None,
                target: Some(us.clone()),
            },
            Row {
                job: job("job-a", JobStatus::Active, "2026-06-01T11:00:00Z", 10),
                tags: None,
                target: Some(dr.clone()),
            },
        ];
        let previous: Seen = [
            (
                (Some("prod/us-east-1".to_owned()), "job-a"),
                JobStatus::Active,
            ),
            ((Some("dr".to_owned()), "job-a"), JobStatus::Active),
            ((Some("dr".to_owned()), "job-gone"), JobStatus::Suspended),
        ]
        .into_iter()
        .map(|((name, id), status)| {
            (
                (name, JobId::parse(id).unwrap()),
                job(id, status, "2026-06-01T11:00:00Z", 10),
            )
        })
        .collect();
        let round = Round {
            rows: &rows,
            total: 2,
            previous: Some(&previous),
            now,
            targets: vec![
                "prod/us-east-1".to_owned(),
                "prod/eu-west-1".to_owned(),
                "dr".to_owned(),
            ],
        };
        let text = table(&round, Some(160));
        insta::assert_snapshot!(text);
        let json: Value = serde_json::from_str(&list_json(&rows)).unwrap();
        assert_eq!(json[1]["target"], "dr");
        assert_eq!(json[1]["account_id"], "444455556666");
        assert_eq!(json[1]["region"], "us-west-2");
        let described = describe_text(
            &Described {
                description: JobDescription {
                    summary: rows[1].job.clone(),
                    status_update_reason: None,
                    suspended_cause: None,
                    failure_reasons: Vec::new(),
                    confirmation_required: None,
                    details: crate::api::JobDetails::default(),
                },
                tags: Vec::new(),
                target: Some(dr),
            },
            now,
        );
        assert!(
            described.starts_with("target        dr (account 444455556666, us-west-2)\njob "),
            "{described}"
        );
    }

    #[test]
    fn one_job_is_described_a_fact_a_line() {
        let now: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
        let mut summary = job("job-a", JobStatus::Failed, "2026-06-01T09:00:00Z", 80);
        summary.termination_date = Some("2026-06-01T11:30:00Z".parse().unwrap());
        let description = JobDescription {
            summary,
            status_update_reason: Some("INC-2041".to_owned()),
            suspended_cause: None,
            failure_reasons: vec!["ManifestNotFound: the manifest is gone".to_owned()],
            confirmation_required: Some(false),
            details: crate::api::JobDetails {
                role_arn: Some("arn:aws:iam::111122223333:role/batch".to_owned()),
                manifest: Some("arn:aws:s3:::manifests/a.csv".to_owned()),
                manifest_etag: Some("abc".to_owned()),
                manifest_generated: false,
                report: Some("s3://reports/job-a".to_owned()),
                report_scope: Some("FailedTasksOnly".to_owned()),
                suspended_date: None,
            },
        };
        let tags = [Tag {
            key: "team".into(),
            value: "search".into(),
        }];
        let one = Described {
            description,
            tags: tags.to_vec(),
            target: None,
        };
        insta::assert_snapshot!(describe_text(&one, now));
        let json: Value = serde_json::from_str(&describe_json(&[one])).unwrap();
        assert_eq!(
            json[0]["FailureReasons"][0]["FailureCode"],
            "ManifestNotFound"
        );
        assert_eq!(json[0]["Report"]["Location"], "s3://reports/job-a");
        assert_eq!(json[0]["Tags"][0]["Key"], "team");
    }
}
