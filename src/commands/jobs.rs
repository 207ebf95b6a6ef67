//! `s3plan jobs`: list the jobs a selector matches (newest first, `--watch` to follow them), or describe
//! some jobs in full. Reads only.
//!
//! Owns the reads of the command: the selector flags become a plan's `select:` (`flag_plan.rs`) and are
//! applied by `resolve.rs`'s own filters, every read goes through its target's read limit
//! (`poll_rate_limit`), tags are read only for the rows shown (and once per job), a watch round is one
//! ListJobs sweep per target (the targets of `--targets-from` in parallel), and the job API it holds
//! refuses writes.
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
use crate::commands::flag_plan::{self, FlagPlan};
use crate::commands::job_view::{self, Described, Round, Row, Seen};
use crate::commands::session::{Origin, Session};
use crate::errors::{self, CommandError};
use crate::exec::retry::Caller;
use crate::plan::model::{JobSet, Selector};
use crate::report::summary::hint;
use crate::resolve::{self, Read as _};
use crate::resolved::{RunMode, Target};

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
    let targets =
        flag_plan::flag_targets("jobs", args.targets_from.as_deref(), &args.connect, false)?;
    let flags = FlagPlan {
        name: "jobs",
        set: None,
        ids: &[],
        select: &args.select,
        reason: None,
        max_jobs: None,
        wait: None,
        connect: &args.connect,
        targets: targets.as_ref(),
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
    // One site per target, each under its own read limit: AWS limits each account in each region.
    let sites: Vec<Site<_>> = session
        .targets
        .iter()
        .zip(&session.controls)
        .zip(session.readers(&cancel))
        .map(|((target, control), reader)| Site {
            target: target.name.is_some().then(|| target.clone()),
            control: Looking::new(control.clone()),
            reader,
        })
        .collect();
    let outcome = if !args.ids.is_empty() {
        describe(args, &args.ids, &sites).await
    } else {
        let Origin::Plan(loaded) = &session.origin else {
            return Err(internal("the jobs plan was read as a saved plan"));
        };
        let Some(JobSet::Select(selector)) = loaded.plan.entries().next().and_then(|e| e.job_set())
        else {
            return Err(internal("the jobs plan has no selector"));
        };
        match args.watch {
            Some(every) => watch(args, selector, &sites, &cancel, every).await,
            None => list_once(args, selector, &sites).await,
        }
    };
    if let Some(sandbox) = session.sandbox {
        sandbox.shutdown().await;
    }
    match outcome {
        Err(_) if cancel.is_cancelled() && args.watch.is_some() => Ok(errors::EXIT_OK),
        Err(_) if cancel.is_cancelled() => Err(CommandError::Interrupted),
        Err(Failure::Api(error, target)) => {
            if let Some(target) = target {
                eprintln!("the reads in target {target} failed:");
            }
            Err(CommandError::Api {
                hint: hint(error.kind, error.call).to_owned(),
                error,
            })
        }
        Err(Failure::Closed) => Ok(errors::EXIT_OK),
        Ok(code) => Ok(code),
    }
}

/// One place the command reads: a target of `--targets-from` (or the one account and region), its job
/// API and its read limit.
struct Site<C> {
    /// The target, when the command runs across a plan's `targets:`; rows and messages name it.
    target: Option<Target>,
    /// Its job API, read only.
    control: Looking<C>,
    /// Its read limit.
    reader: Caller,
}

impl<C> Site<C> {
    /// A read of this site that failed for good, naming the target.
    fn failure(&self, error: ApiError) -> Failure {
        Failure::Api(Box::new(error), self.target.as_ref().map(Target::label))
    }
}

/// Why a listing stopped early.
enum Failure {
    /// A read failed for good (or was interrupted), in this target when there are several.
    Api(Box<ApiError>, Option<String>),
    /// stdout was closed (`s3plan jobs | head`): nothing more to say, not an error.
    Closed,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure::Api(Box::new(error), None)
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

/// One sweep: the jobs the selector matches in every site (one ListJobs sweep each, in parallel), newest
/// first across them, cut to `--limit`, with tags when asked.
async fn sweep<C: JobControl>(
    args: &JobsArgs,
    selector: &Selector,
    sites: &[Site<C>],
) -> Result<(Vec<Row>, usize), Failure> {
    let listings = sites.iter().enumerate().map(|(index, site)| async move {
        let listed = resolve::list_filtered(selector, &site.control, &site.reader)
            .await
            .map_err(|error| site.failure(error))?;
        let matched = resolve::keep_tagged(selector, listed, &site.control, &site.reader)
            .await
            .map_err(|(_, error)| site.failure(error))?;
        Ok::<_, Failure>(matched.into_iter().map(move |job| (index, job)))
    });
    let mut matched: Vec<(usize, JobSummary)> = futures::future::try_join_all(listings)
        .await?
        .into_iter()
        .flatten()
        .collect();
    newest_first(&mut matched);
    let total = matched.len();
    if let Some(limit) = args.limit {
        matched.truncate(limit);
    }
    let mut rows = Vec::with_capacity(matched.len());
    for (index, job) in matched {
        let Some(site) = sites.get(index) else {
            continue;
        };
        let job_tags = if args.tags {
            Some(
                tags_of(&job.id, &site.control, &site.reader)
                    .await
                    .map_err(|error| site.failure(error))?,
            )
        } else {
            None
        };
        rows.push(Row {
            job,
            tags: job_tags,
            target: site.target.clone(),
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

/// Newest first; jobs without a creation time last; ties by id, then by target (plan order), so the order
/// is stable between rounds.
fn newest_first(jobs: &mut [(usize, JobSummary)]) {
    jobs.sort_by(|(a_site, a), (b_site, b)| {
        b.creation_time
            .cmp(&a.creation_time)
            .then_with(|| a.id.as_str().cmp(b.id.as_str()))
            .then_with(|| a_site.cmp(b_site))
    });
}

async fn list_once<C: JobControl>(
    args: &JobsArgs,
    selector: &Selector,
    sites: &[Site<C>],
) -> Result<i32, Failure> {
    let (rows, total) = sweep(args, selector, sites).await?;
    let text = match args.output {
        JobsOutput::Table => job_view::table(
            &Round {
                rows: &rows,
                total,
                previous: None,
                now: jiff::Timestamp::now(),
                targets: targets_of(sites),
            },
            job_view::terminal_width(),
        ),
        JobsOutput::Json => job_view::list_json(&rows),
        JobsOutput::Ids => job_view::ids(&rows),
    };
    print(&text)?;
    Ok(errors::EXIT_OK)
}

/// The names of the sites' targets, in plan order; empty without `--targets-from`.
fn targets_of<C>(sites: &[Site<C>]) -> Vec<String> {
    sites
        .iter()
        .filter_map(|site| site.target.as_ref().map(Target::label))
        .collect()
}

/// Lists every `every` until Ctrl-C (which ends it with exit 0), marking what changed since the round
/// before; a round that fails on a transient error is reported and skipped. Each round is one ListJobs
/// sweep per target (plus GetJobTagging for tag filters and jobs not seen before); never a DescribeJob per
/// job.
async fn watch<C: JobControl>(
    args: &JobsArgs,
    selector: &Selector,
    sites: &[Site<C>],
    cancel: &CancellationToken,
    every: std::time::Duration,
) -> Result<i32, Failure> {
    let every = every.max(job_view::MIN_WATCH_INTERVAL);
    let mut previous: Option<Seen> = None;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let clear = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let targets = targets_of(sites);
    for round in 1u64.. {
        tokio::select! {
            _ = ticks.tick() => {}
            () = cancel.cancelled() => return Ok(errors::EXIT_OK),
        }
        let (rows, total) = match sweep(args, selector, sites).await {
            Ok(found) => found,
            // A watch outlives a bad minute of the API: a round whose reads failed for good on a
            // transient error is reported and the next round tries again. Other errors (access,
            // credentials) would fail every round, so they end the watch.
            Err(Failure::Api(error, target))
                if error.kind.is_retryable() && !cancel.is_cancelled() =>
            {
                match target {
                    Some(target) => {
                        eprintln!("round {round}: {target}: {error}; trying again next round");
                    }
                    None => eprintln!("round {round}: {error}; trying again next round"),
                }
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
                let over = if targets.is_empty() {
                    String::new()
                } else {
                    format!(" over {}", crate::text::plural(targets.len(), "target"))
                };
                text.push_str(&format!(
                    "s3plan jobs: round {round} at {}{over}, every {} (Ctrl-C to stop)\n\n",
                    job_view::absolute(now),
                    humantime::format_duration(every)
                ));
                text.push_str(&job_view::table(
                    &Round {
                        rows: &rows,
                        total,
                        previous: previous.as_ref(),
                        now,
                        targets: targets.clone(),
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
                .map(|row| (job_view::row_key(&row), row.job))
                .collect(),
        );
    }
    Ok(errors::EXIT_OK)
}

/// `s3plan jobs JOB_ID...`: DescribeJob and GetJobTagging for each, in every target at once (a job id
/// lives in one account and region; each description says which). A job found nowhere is reported with the
/// targets searched and the others still shown (exit 2 at the end).
async fn describe<C: JobControl>(
    args: &JobsArgs,
    ids: &[JobId],
    sites: &[Site<C>],
) -> Result<i32, Failure> {
    let mut missing = 0;
    let mut described = Vec::new();
    let targets = targets_of(sites);
    for id in ids {
        let lookups = sites.iter().map(|site| async move {
            match site
                .reader
                .read(ApiCall::DescribeJob, || site.control.describe_job(id))
                .await
            {
                Ok(answer) => Ok(Some(answer.value)),
                Err(error) if error.kind == ApiErrorKind::NotFound => Ok(None),
                Err(error) => Err(site.failure(error)),
            }
        });
        let found = futures::future::try_join_all(lookups).await?;
        let mut seen = false;
        for (site, description) in sites.iter().zip(found) {
            let Some(description) = description else {
                continue;
            };
            seen = true;
            let tags = tags_of(id, &site.control, &site.reader)
                .await
                .map_err(|error| site.failure(error))?;
            described.push(Described {
                description,
                tags,
                target: site.target.clone(),
            });
        }
        if !seen {
            missing += 1;
            if targets.is_empty() {
                eprintln!("job {id} was not found in this account and region");
            } else {
                eprintln!(
                    "job {id} was not found in any of the {} searched: {}",
                    crate::text::plural(targets.len(), "target"),
                    targets.join(", ")
                );
            }
        }
    }
    let text = match args.output {
        JobsOutput::Table => {
            let now = jiff::Timestamp::now();
            described
                .iter()
                .map(|one| job_view::describe_text(one, now))
                .collect::<Vec<_>>()
                .join("\n")
        }
        JobsOutput::Json => job_view::describe_json(&described),
        JobsOutput::Ids => described
            .iter()
            .map(|one| format!("{}\n", one.description.summary.id))
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
