//! `s3plan jobs`: list the jobs a selector matches (newest first, `--watch` to follow them), or describe
//! some jobs in full. Reads only.
//!
//! Owns the reads of the command: the selector flags become a plan's `select:` (`flag_plan.rs`) and are
//! applied by `resolve.rs`'s own filters, every read goes through the session's read limit
//! (`poll_rate_limit`), tags are read only for the rows shown (and once per job), a watch round is one
//! ListJobs sweep, and the job API it holds refuses writes.
//! Rendering lives in `job_view.rs`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::api::{
    Answer, ApiCall, ApiError, ApiErrorKind, JobControl, JobDescription, JobId, JobPage, JobStatus,
    JobSummary, Tag, TargetStatus,
};
use crate::cli::{JobsArgs, JobsOutput};
use crate::commands::apply::next_signal;
use crate::commands::flag_plan::FlagPlan;
use crate::commands::job_view::{self, Round, Row};
use crate::commands::session::{Origin, Session};
use crate::errors::{self, CommandError};
use crate::exec::retry::Caller;
use crate::plan::model::{JobSet, Selector};
use crate::report::summary::hint;
use crate::resolve::{self, Read as _};
use crate::resolved::RunMode;

/// Runs `s3plan jobs`.
pub fn run(args: &JobsArgs) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(source) => {
            return errors::report(CommandError::Io {
                action: "start the async runtime for",
                path: "s3plan jobs".to_owned(),
                source,
            });
        }
    };
    match runtime.block_on(jobs(args)) {
        Ok(code) => code,
        Err(error) => errors::report(error),
    }
}

async fn jobs(args: &JobsArgs) -> Result<i32, CommandError> {
    let flags = FlagPlan {
        name: "jobs",
        set: None,
        ids: &[],
        select: &args.select,
        reason: None,
        max_jobs: None,
        wait: None,
        connect: &args.connect,
    };
    let session =
        Session::open_text("s3plan jobs", &flags.body(), &args.connect, RunMode::DryRun).await?;
    let cancel = CancellationToken::new();
    let interrupted = cancel.clone();
    tokio::spawn(async move {
        if next_signal().await {
            interrupted.cancel();
        }
    });
    let reader = session.reader(&cancel);
    let control = Looking::new(session.controls[0].clone());
    let outcome = if !args.ids.is_empty() {
        describe(args, &args.ids, &control, &reader).await
    } else {
        let Origin::Plan(loaded) = &session.origin else {
            return Err(internal("the jobs plan was read as a saved plan"));
        };
        let Some(JobSet::Select(selector)) = loaded.plan.entries().next().and_then(|e| e.job_set())
        else {
            return Err(internal("the jobs plan has no selector"));
        };
        match args.watch {
            Some(every) => watch(args, selector, &control, &reader, every).await,
            None => list_once(args, selector, &control, &reader).await,
        }
    };
    if let Some(sandbox) = session.sandbox {
        sandbox.shutdown().await;
    }
    match outcome {
        Err(_) if cancel.is_cancelled() && args.watch.is_some() => Ok(errors::EXIT_OK),
        Err(_) if cancel.is_cancelled() => Err(CommandError::Interrupted),
        Err(Failure::Api(error)) => Err(CommandError::Api {
            hint: hint(error.kind, error.call).to_owned(),
            error,
        }),
        Err(Failure::Closed) => Ok(errors::EXIT_OK),
        Ok(code) => Ok(code),
    }
}

/// Why a listing stopped early.
enum Failure {
    /// A read failed for good (or was interrupted).
    Api(Box<ApiError>),
    /// stdout was closed (`s3plan jobs | head`): nothing more to say, not an error.
    Closed,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure::Api(Box::new(error))
    }
}

impl From<std::io::Error> for Failure {
    fn from(_: std::io::Error) -> Self {
        Failure::Closed
    }
}

fn internal(what: &str) -> CommandError {
    CommandError::refused(
        format!("{what}; this is a bug"),
        "report it with the command line",
    )
}

/// One sweep: the jobs the selector matches, newest first, cut to `--limit`, with tags when asked.
async fn sweep<C: JobControl>(
    args: &JobsArgs,
    selector: &Selector,
    control: &Looking<C>,
    reader: &Caller,
) -> Result<(Vec<Row>, usize), Failure> {
    let listed = resolve::list_filtered(selector, control, reader).await?;
    let mut matched = resolve::keep_tagged(selector, listed, control, reader)
        .await
        .map_err(|(_, error)| error)?;
    newest_first(&mut matched);
    let total = matched.len();
    if let Some(limit) = args.limit {
        matched.truncate(limit);
    }
    let mut rows = Vec::with_capacity(matched.len());
    for job in matched {
        let job_tags = if args.tags {
            Some(tags_of(&job.id, control, reader).await?)
        } else {
            None
        };
        rows.push(Row {
            job,
            tags: job_tags,
        });
    }
    Ok((rows, total))
}

/// The tags of a shown row (read once per job: `Looking` keeps the answers).
async fn tags_of<C: JobControl>(
    job: &JobId,
    control: &Looking<C>,
    reader: &Caller,
) -> Result<Vec<Tag>, ApiError> {
    match reader
        .read(ApiCall::GetJobTagging, || control.get_job_tagging(job))
        .await
    {
        Ok(answer) => Ok(answer.value),
        // Gone between ListJobs and GetJobTagging: shown without tags.
        Err(error) if error.kind == ApiErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

/// The job API for `jobs`: reads pass through, GetJobTagging answers are kept for the life of the
/// command (a watch does not re-read every candidate's tags each round: tags change seldom, and each read
/// costs a read permit), and writes are refused here, so `jobs` cannot change a job whatever path is
/// taken.
struct Looking<C> {
    inner: Arc<C>,
    tags: Mutex<HashMap<JobId, Vec<Tag>>>,
}

impl<C> Looking<C> {
    fn new(inner: Arc<C>) -> Self {
        Self {
            inner,
            tags: Mutex::new(HashMap::new()),
        }
    }

    fn known_tags(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Vec<Tag>>> {
        // A panic while holding the lock cannot leave the map half-written: insert is one step.
        self.tags.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn no_changes(call: ApiCall) -> ApiError {
    ApiError::local(
        call,
        ApiErrorKind::Other,
        "s3plan jobs makes no changes; this is a bug",
    )
}

impl<C: JobControl> JobControl for Looking<C> {
    async fn describe_job(&self, job: &JobId) -> Result<Answer<JobDescription>, ApiError> {
        self.inner.describe_job(job).await
    }

    async fn list_jobs(
        &self,
        statuses: &[JobStatus],
        next_token: Option<&str>,
        max_results: i32,
    ) -> Result<Answer<JobPage>, ApiError> {
        self.inner
            .list_jobs(statuses, next_token, max_results)
            .await
    }

    async fn update_job_status(
        &self,
        _job: &JobId,
        _target: TargetStatus,
        _reason: Option<&str>,
    ) -> Result<Answer<JobStatus>, ApiError> {
        Err(no_changes(ApiCall::UpdateJobStatus))
    }

    async fn update_job_priority(
        &self,
        _job: &JobId,
        _priority: i32,
    ) -> Result<Answer<i32>, ApiError> {
        Err(no_changes(ApiCall::UpdateJobPriority))
    }

    async fn get_job_tagging(&self, job: &JobId) -> Result<Answer<Vec<Tag>>, ApiError> {
        if let Some(tags) = self.known_tags().get(job) {
            return Ok(Answer {
                value: tags.clone(),
                request_id: None,
            });
        }
        let answer = self.inner.get_job_tagging(job).await?;
        self.known_tags().insert(job.clone(), answer.value.clone());
        Ok(answer)
    }
}

/// Newest first; jobs without a creation time last; ties by id, so the order is stable between rounds.
fn newest_first(jobs: &mut [JobSummary]) {
    jobs.sort_by(|a, b| {
        b.creation_time
            .cmp(&a.creation_time)
            .then_with(|| a.id.as_str().cmp(b.id.as_str()))
    });
}

async fn list_once<C: JobControl>(
    args: &JobsArgs,
    selector: &Selector,
    control: &Looking<C>,
    reader: &Caller,
) -> Result<i32, Failure> {
    let (rows, total) = sweep(args, selector, control, reader).await?;
    let text = match args.output {
        JobsOutput::Table => job_view::table(
            &Round {
                rows: &rows,
                total,
                previous: None,
                now: jiff::Timestamp::now(),
            },
            job_view::terminal_width(),
        ),
        JobsOutput::Json => job_view::list_json(&rows),
        JobsOutput::Ids => job_view::ids(&rows),
    };
    print(&text)?;
    Ok(errors::EXIT_OK)
}

/// Lists every `every` until Ctrl-C (which ends it with exit 0), marking what changed since the round
/// before; a round that fails on a transient error is reported and skipped. Each round is one ListJobs sweep (plus GetJobTagging for tag filters and jobs not seen
/// before); never a DescribeJob per job.
async fn watch<C: JobControl>(
    args: &JobsArgs,
    selector: &Selector,
    control: &Looking<C>,
    reader: &Caller,
    every: std::time::Duration,
) -> Result<i32, Failure> {
    let every = every.max(job_view::MIN_WATCH_INTERVAL);
    let mut previous: Option<HashMap<JobId, JobSummary>> = None;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let clear = std::io::IsTerminal::is_terminal(&std::io::stdout());
    for round in 1u64.. {
        tokio::select! {
            _ = ticks.tick() => {}
            () = reader.cancel.cancelled() => return Ok(errors::EXIT_OK),
        }
        let (rows, total) = match sweep(args, selector, control, reader).await {
            Ok(found) => found,
            // A watch outlives a bad minute of the API: a round whose reads failed for good on a
            // transient error is reported and the next round tries again. Other errors (access,
            // credentials) would fail every round, so they end the watch.
            Err(Failure::Api(error))
                if error.kind.is_retryable() && !reader.cancel.is_cancelled() =>
            {
                eprintln!("round {round}: {error}; trying again next round");
                continue;
            }
            Err(failure) => return Err(failure),
        };
        let now = jiff::Timestamp::now();
        let text = match args.output {
            JobsOutput::Table => {
                let mut text = if clear {
                    "\x1b[H\x1b[2J".to_owned()
                } else {
                    String::new()
                };
                text.push_str(&format!(
                    "s3plan jobs: round {round} at {}, every {} (Ctrl-C to stop)\n\n",
                    job_view::absolute(now),
                    humantime::format_duration(every)
                ));
                text.push_str(&job_view::table(
                    &Round {
                        rows: &rows,
                        total,
                        previous: previous.as_ref(),
                        now,
                    },
                    job_view::terminal_width(),
                ));
                if !clear {
                    text.push('\n');
                }
                text
            }
            JobsOutput::Json => job_view::list_json(&rows),
            JobsOutput::Ids => job_view::ids(&rows),
        };
        print(&text)?;
        previous = Some(
            rows.into_iter()
                .map(|row| (row.job.id.clone(), row.job))
                .collect(),
        );
    }
    Ok(errors::EXIT_OK)
}

/// `s3plan jobs JOB_ID...`: DescribeJob and GetJobTagging for each; a job not found is reported and the
/// others still shown (exit 2 at the end).
async fn describe<C: JobControl>(
    args: &JobsArgs,
    ids: &[JobId],
    control: &Looking<C>,
    reader: &Caller,
) -> Result<i32, Failure> {
    let mut missing = 0;
    let mut described = Vec::new();
    for id in ids {
        let answer = reader
            .read(ApiCall::DescribeJob, || control.describe_job(id))
            .await;
        let description = match answer {
            Ok(answer) => answer.value,
            Err(error) if error.kind == ApiErrorKind::NotFound => {
                eprintln!("job {id} was not found in this account and region");
                missing += 1;
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let tags = tags_of(id, control, reader).await?;
        described.push((description, tags));
    }
    let text = match args.output {
        JobsOutput::Table => {
            let now = jiff::Timestamp::now();
            described
                .iter()
                .map(|(description, tags)| job_view::describe_text(description, tags, now))
                .collect::<Vec<_>>()
                .join("\n")
        }
        JobsOutput::Json => job_view::describe_json(&described),
        JobsOutput::Ids => described
            .iter()
            .map(|(description, _)| format!("{}\n", description.summary.id))
            .collect(),
    };
    print(&text)?;
    Ok(if missing > 0 {
        errors::EXIT_INVALID
    } else {
        errors::EXIT_OK
    })
}

/// Writes to stdout; an error means stdout is gone (a closed pipe), which ends the command quietly.
fn print(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}
