//! What `s3plan jobs` prints: the table (with a watch round's change marks), the JSON with the API's
//! field names, the ids, and the full description of one job.
//!
//! Pure functions of what was read and the current time; never calls the API.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::api::{JobDescription, JobId, JobStatus, JobSummary, Tag};

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
}

/// One listing to draw.
pub(crate) struct Round<'a> {
    /// The rows shown, newest first.
    pub rows: &'a [Row],
    /// How many jobs matched (more than `rows` under `--limit`).
    pub total: usize,
    /// What the previous watch round showed, to mark changes; `None` outside a watch (or its first round).
    pub previous: Option<&'a HashMap<JobId, JobSummary>>,
    /// The time relative ages are counted from.
    pub now: Timestamp,
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

/// The table: a mark column in a watch, id, status, priority, operation, created (relative and
/// absolute), tasks, tags when read, and the description last, cut to `width`; then a footer counting
/// jobs per status.
pub(crate) fn table(round: &Round<'_>, width: Option<usize>) -> String {
    let watching = round.previous.is_some();
    let with_tags = round.rows.iter().any(|row| row.tags.is_some());
    let mut header = Vec::new();
    if watching {
        header.push(String::new());
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
        let before = round.previous.and_then(|previous| previous.get(&job.id));
        if watching {
            cells.push(mark(job, before).to_owned());
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
    if let Some(previous) = round.previous {
        let shown_ids: Vec<&JobId> = round.rows.iter().map(|r| &r.job.id).collect();
        let mut gone: Vec<&JobSummary> = previous
            .values()
            .filter(|job| !shown_ids.contains(&&job.id))
            .collect();
        gone.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        for job in gone {
            let _ = writeln!(text, "- {} no longer listed (was {})", job.id, job.status);
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
/// fields, with `Tags`.
pub(crate) fn describe_json(described: &[(JobDescription, Vec<Tag>)]) -> String {
    let jobs: Vec<Value> = described
        .iter()
        .map(|(description, tags)| {
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
            job
        })
        .collect();
    pretty(&Value::Array(jobs))
}

/// Everything an operator needs about one job, one fact a line.
pub(crate) fn describe_text(description: &JobDescription, tags: &[Tag], now: Timestamp) -> String {
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
        let previous: HashMap<JobId, JobSummary> = [
            job("job-a", JobStatus::Active, "2026-06-01T11:00:00Z", 10),
            job("job-b", JobStatus::Active, "2026-06-01T10:00:00Z", 10),
            job("job-c", JobStatus::Suspended, "2026-05-30T10:00:00Z", 0),
            job("job-d", JobStatus::Ready, "2026-05-29T10:00:00Z", 0),
        ]
        .into_iter()
        .map(|j| (j.id.clone(), j))
        .collect();
        let rows = vec![
            Row {
                job: job("job-new", JobStatus::New, "2026-06-01T11:59:30Z", 0),
                tags: None,
            },
            Row {
                job: job("job-a", JobStatus::Cancelling, "2026-06-01T11:00:00Z", 10),
                tags: None,
            },
            Row {
                job: job("job-b", JobStatus::Active, "2026-06-01T10:00:00Z", 50),
                tags: None,
            },
            Row {
                job: job("job-c", JobStatus::Suspended, "2026-05-30T10:00:00Z", 0),
                tags: None,
            },
        ];
        let round = Round {
            rows: &rows,
            total: 4,
            previous: Some(&previous),
            now,
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
            },
            Row {
                job: job("job-b", JobStatus::Suspended, "2026-05-01T10:00:00Z", 0),
                tags: Some(Vec::new()),
            },
        ];
        let round = Round {
            rows: &rows,
            total: 7,
            previous: None,
            now,
        };
        let text = table(&round, Some(140));
        assert!(text.lines().all(|l| l.chars().count() <= 140), "{text}");
        assert!(text.contains("reindex-job-a-with-a-long-…"), "{text}");
        let narrow = table(&round, Some(60));
        assert!(narrow.contains("team=search"), "{narrow}");
        assert!(narrow.contains("reindex-job-a-w…"), "{narrow}");
        insta::assert_snapshot!(text);
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
        insta::assert_snapshot!(describe_text(&description, &tags, now));
        let json: Value =
            serde_json::from_str(&describe_json(&[(description, tags.to_vec())])).unwrap();
        assert_eq!(
            json[0]["FailureReasons"][0]["FailureCode"],
            "ManifestNotFound"
        );
        assert_eq!(json[0]["Report"]["Location"], "s3://reports/job-a");
        assert_eq!(json[0]["Tags"][0]["Key"], "team");
    }
}
