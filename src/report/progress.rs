//! Live progress on stderr: indicatif bars on a terminal, plain lines elsewhere.
//!
//! Owns [`ProgressMode`] (`--progress auto|always|never`, `NO_COLOR`, `TERM=dumb`), the counters a display
//! needs (per entry: jobs done by outcome, jobs waiting on a gate and on what; per run: request rate over the
//! last few seconds, throttles, retries) and both renderings:
//!
//! - On a terminal, one bar per running entry (at most [`MAX_BARS`]; the rest are counted on a line below)
//!   under a header with elapsed time, jobs done, request rate and throttles. Events only bump counters
//!   (O(1), no drawing); the display is re-rendered on the coordinator's `tick` and indicatif draws it at
//!   most [`REFRESH_HZ`] times a second, so a 100,000-job run spends no measurable CPU drawing.
//! - Elsewhere (CI logs, pipes), a line every [`LINE_INTERVAL`] of run time on `tick`, plus a line when the
//!   run starts, when each entry ends and when the run ends.
//!
//! Log lines go through [`LogWriter`], which prints them above the bars without tearing them. Does not own
//! the final summary (`summary.rs`) or report files.

use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::api::{ApiCall, JobId, JobStatus, Progress};
use crate::event::{Event, EventKind, GateView, JobIndex};
use crate::report::Reporter;
use crate::report::run_record::OutcomeCounts;
use crate::resolved::{GateSubject, RunMode, Target};

/// Most entry bars drawn at once; more running entries are summed up on the header line.
pub const MAX_BARS: usize = 8;
/// Most redraws per second of the bars.
pub const REFRESH_HZ: u8 = 10;
/// Run time between two plain progress lines.
pub const LINE_INTERVAL: Duration = Duration::from_secs(5);
/// The window the current request rate is measured over.
const RATE_WINDOW: Duration = Duration::from_secs(5);
/// Running entries listed under a plain progress line.
const MAX_ENTRY_LINES: usize = 10;

/// `--progress`: whether to show live progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Bars on a terminal that can draw them, plain lines otherwise.
    #[default]
    Auto,
    /// Bars even when stderr is not a terminal (unless `TERM=dumb`, which gets plain lines).
    Always,
    /// No live progress.
    Never,
}

/// The facts about stderr that decide the display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermEnv {
    /// Whether stderr is a terminal.
    pub is_terminal: bool,
    /// `TERM`, when set.
    pub term: Option<String>,
    /// Whether `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub no_color: bool,
}

impl TermEnv {
    /// Reads stderr and the environment.
    pub fn detect() -> Self {
        Self {
            is_terminal: std::io::stderr().is_terminal(),
            term: std::env::var("TERM").ok(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        }
    }

    /// A terminal without cursor movement: `TERM` unset or `dumb` (as `console` judges it).
    fn is_dumb(&self) -> bool {
        matches!(self.term.as_deref(), None | Some("dumb"))
    }
}

/// What the display will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressOutput {
    /// indicatif bars on stderr.
    Bars {
        /// Whether the bars use color.
        color: bool,
    },
    /// Plain lines on stderr at a steady pace.
    Lines,
    /// Nothing.
    Off,
}

impl ProgressMode {
    /// The display this mode gives in `env`.
    pub fn resolve(self, env: &TermEnv) -> ProgressOutput {
        let color = !env.no_color;
        match self {
            ProgressMode::Never => ProgressOutput::Off,
            ProgressMode::Always if env.term.as_deref() == Some("dumb") => ProgressOutput::Lines,
            ProgressMode::Always => ProgressOutput::Bars { color },
            ProgressMode::Auto if env.is_terminal && !env.is_dumb() => {
                ProgressOutput::Bars { color }
            }
            ProgressMode::Auto => ProgressOutput::Lines,
        }
    }
}

/// A `tracing` writer to stderr that prints above the progress bars while they are drawn.
///
/// Create one before logging is set up, hand a clone to `tracing_subscriber::fmt().with_writer(..)` and
/// another to [`ProgressReporter::new`]; while bars are drawn each log line is written with the bars
/// cleared (`ProgressBar::suspend`), then the bars are redrawn below it.
#[derive(Debug, Clone, Default)]
pub struct LogWriter {
    bars: Arc<Mutex<Option<ProgressBar>>>,
}

impl LogWriter {
    /// A writer to plain stderr until a progress display attaches.
    pub fn new() -> Self {
        Self::default()
    }

    fn set(&self, bars: Option<ProgressBar>) {
        *self.bars.lock().unwrap_or_else(PoisonError::into_inner) = bars;
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine {
            bars: self
                .bars
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            buffer: Vec::new(),
        }
    }
}

/// One log event being written; it reaches stderr whole, when flushed or dropped.
#[derive(Debug)]
pub struct LogLine {
    bars: Option<ProgressBar>,
    buffer: Vec<u8>,
}

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let buffer = std::mem::take(&mut self.buffer);
        let write = || {
            let mut stderr = std::io::stderr().lock();
            stderr.write_all(&buffer)?;
            stderr.flush()
        };
        match &self.bars {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        // A log line that cannot reach stderr has nowhere else to go.
        let _ = self.flush();
    }
}

/// One entry as the display sees it.
#[derive(Debug)]
struct EntryProgress {
    name: Arc<str>,
    total: usize,
    done: usize,
    counts: OutcomeCounts,
    waiting: usize,
    gate: Option<GateView>,
    /// The gate in words (`job X in dr/us-west-2 to be Complete`), made once when the first job waits.
    gate_text: Option<String>,
    /// Run time at which the first of the jobs waiting now gives up on its gate.
    gives_up_at: Option<Duration>,
    /// What the last poll round read of the jobs its waiting jobs watch.
    watched: Option<WatchedSum>,
    started: Option<Duration>,
    finished: bool,
}

/// The watched jobs of one entry's waiting jobs, as last read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct WatchedSum {
    /// The watched job's status, when the entry's gate watches another job (all its jobs watch that one).
    status: Option<JobStatus>,
    /// Task counters, summed over the watched jobs.
    total_tasks: i64,
    succeeded_tasks: i64,
    failed_tasks: i64,
}

impl WatchedSum {
    fn add(&mut self, tasks: Progress) {
        self.total_tasks += tasks.total_tasks;
        self.succeeded_tasks += tasks.succeeded_tasks;
        self.failed_tasks += tasks.failed_tasks;
    }
}

impl EntryProgress {
    fn running(&self) -> bool {
        self.started.is_some() && !self.finished
    }

    /// `3 applied, 1 failed; 12 waiting for job X to be Complete (now Active, tasks 40/100, 2 failed;
    /// gives up in 9:12)`.
    fn status(&self, now: Duration) -> String {
        let mut text = if self.done == 0 {
            "started".to_owned()
        } else {
            self.counts.describe()
        };
        if self.waiting > 0 {
            text.push_str(&format!("; {} waiting", self.waiting));
            if let Some(gate) = &self.gate_text {
                text.push_str(&format!(" for {gate}"));
            }
            let mut details = Vec::new();
            if let Some(seen) = &self.watched {
                if let Some(status) = seen.status {
                    details.push(format!("now {status}"));
                }
                if seen.total_tasks > 0 {
                    let mut tasks = format!(
                        "tasks {}/{}",
                        seen.succeeded_tasks + seen.failed_tasks,
                        seen.total_tasks
                    );
                    if seen.failed_tasks > 0 {
                        tasks.push_str(&format!(", {} failed", seen.failed_tasks));
                    }
                    details.push(tasks);
                }
            }
            if let Some(at) = self.gives_up_at {
                details.push(format!("gives up in {}", clock(at.saturating_sub(now))));
            }
            if !details.is_empty() {
                text.push_str(&format!(" ({})", details.join("; ")));
            }
        }
        text
    }
}

/// `job X to be Complete`, `own status Suspended or Ready`; the watched job's target is named when the run
/// names its targets (`job X in dr/us-west-2 to be Complete`).
fn gate_text(gate: &GateView, targets: &[String]) -> String {
    let statuses: Vec<&str> = gate.statuses.iter().map(|s| s.as_str()).collect();
    let statuses = statuses.join(" or ");
    match &gate.subject {
        GateSubject::OwnStatus => format!("own status {statuses}"),
        GateSubject::OtherJob { target, job } => match targets.get(*target) {
            Some(label) => format!("job {job} in {label} to be {statuses}"),
            None => format!("job {job} to be {statuses}"),
        },
    }
}

/// The counters of a run, updated in O(1) per event.
#[derive(Debug, Default)]
struct RunProgress {
    mode: Option<RunMode>,
    /// How each target is named, when the run names its targets (a plan with `targets:`); else empty.
    targets: Vec<String>,
    entries: Vec<EntryProgress>,
    total_jobs: usize,
    done: usize,
    counts: OutcomeCounts,
    /// Jobs waiting on a gate, with the job each watches.
    waiting: HashMap<JobIndex, JobId>,
    /// Watched jobs as last read by a poll round.
    watched: HashMap<JobId, (JobStatus, Progress)>,
    requests: u64,
    retries: u64,
    throttles: u64,
    last_throttle: Option<(ApiCall, f64)>,
    /// `(elapsed, requests, jobs done)` at each tick of the last [`RATE_WINDOW`].
    samples: VecDeque<(Duration, u64, usize)>,
    elapsed: Duration,
}

impl RunProgress {
    fn observe(&mut self, event: &Event) {
        self.elapsed = self.elapsed.max(event.elapsed);
        match &event.kind {
            EventKind::RunStarted(info) => {
                self.mode = Some(info.mode);
                self.targets = if info.is_multi_target() {
                    info.targets.iter().map(Target::label).collect()
                } else {
                    Vec::new()
                };
                self.total_jobs = info.total_jobs;
                self.entries = info
                    .entries
                    .iter()
                    .map(|(name, total)| EntryProgress {
                        name: name.clone(),
                        total: *total,
                        done: 0,
                        counts: OutcomeCounts::default(),
                        waiting: 0,
                        gate: None,
                        gate_text: None,
                        gives_up_at: None,
                        watched: None,
                        started: None,
                        finished: false,
                    })
                    .collect();
            }
            EventKind::EntryStarted { entry } => {
                if let Some(e) = self.entries.get_mut(*entry) {
                    e.started = Some(event.elapsed);
                }
            }
            EventKind::JobWaiting { index, job, gate } => {
                let watched = match &gate.subject {
                    GateSubject::OwnStatus => job.clone(),
                    GateSubject::OtherJob { job: other, .. } => other.clone(),
                };
                if self.waiting.insert(*index, watched).is_none()
                    && let Some(e) = self.entries.get_mut(index.entry)
                {
                    e.waiting += 1;
                    if e.gate.is_none() {
                        e.gate_text = Some(gate_text(gate, &self.targets));
                        e.gate = Some(gate.clone());
                    }
                    // The first job to wait is the first to give up; later ones start later with the same
                    // timeout.
                    if e.gives_up_at.is_none() {
                        e.gives_up_at = Some(event.elapsed + gate.timeout);
                    }
                }
            }
            EventKind::GatePolled { seen, .. } => self.polled(seen),
            EventKind::JobApplying { index, .. } => self.stop_waiting(*index),
            EventKind::AttemptStarted { .. } => self.requests += 1,
            EventKind::Retrying { .. } => self.retries += 1,
            EventKind::Throttled { call, rate } => {
                self.throttles += 1;
                self.last_throttle = Some((*call, *rate));
            }
            EventKind::JobFinished(record) => {
                self.stop_waiting(record.index);
                self.done += 1;
                self.counts.add(record.outcome);
                if let Some(e) = self.entries.get_mut(record.index.entry) {
                    e.done += 1;
                    e.counts.add(record.outcome);
                }
            }
            EventKind::EntryFinished { entry, .. } => {
                if let Some(e) = self.entries.get_mut(*entry) {
                    e.finished = true;
                }
            }
            EventKind::RunFinished { .. } => {}
        }
    }

    fn stop_waiting(&mut self, index: JobIndex) {
        if self.waiting.remove(&index).is_some()
            && let Some(e) = self.entries.get_mut(index.entry)
        {
            e.waiting = e.waiting.saturating_sub(1);
            if e.waiting == 0 {
                e.gives_up_at = None;
                e.watched = None;
            }
        }
    }

    /// Sums what a poll round read per entry: once a round (not per redraw), so drawing stays O(entries).
    fn polled(&mut self, seen: &[crate::event::WatchedView]) {
        for view in seen {
            self.watched
                .insert(view.job.clone(), (view.status, view.tasks));
        }
        for entry in &mut self.entries {
            entry.watched = None;
            // Every job of an entry watches the same other job: its numbers are shown once. Poll rounds
            // report job ids without their target; ids are unique across accounts and regions.
            if entry.waiting > 0
                && let Some(GateView {
                    subject: GateSubject::OtherJob { job: other, .. },
                    ..
                }) = &entry.gate
                && let Some(&(status, tasks)) = self.watched.get(other)
            {
                let mut sum = WatchedSum {
                    status: Some(status),
                    ..WatchedSum::default()
                };
                sum.add(tasks);
                entry.watched = Some(sum);
            }
        }
        // Jobs waiting on their own status: their numbers add up per entry.
        for (index, watched) in &self.waiting {
            let Some(entry) = self.entries.get_mut(index.entry) else {
                continue;
            };
            if !matches!(
                entry.gate.as_ref().map(|g| &g.subject),
                Some(GateSubject::OwnStatus)
            ) {
                continue;
            }
            if let Some(&(_, tasks)) = self.watched.get(watched) {
                entry
                    .watched
                    .get_or_insert_with(WatchedSum::default)
                    .add(tasks);
            }
        }
    }

    fn sample(&mut self, elapsed: Duration) {
        self.elapsed = self.elapsed.max(elapsed);
        self.samples
            .push_back((self.elapsed, self.requests, self.done));
        while let Some(&(at, _, _)) = self.samples.front() {
            if self.elapsed.saturating_sub(at) <= RATE_WINDOW {
                break;
            }
            self.samples.pop_front();
        }
    }

    /// Calls per second over the last [`RATE_WINDOW`] of ticks.
    fn rate(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, n0, _)), Some(&(t1, n1, _))) if t1 > t0 => {
                (n1 - n0) as f64 / (t1 - t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// Time until the jobs not waiting on a gate are done, at the rate jobs finished over the last
    /// [`RATE_WINDOW`]; `None` while nothing finishes (waiting jobs have their gate's countdown instead).
    fn time_left(&self) -> Option<Duration> {
        let left = self
            .total_jobs
            .saturating_sub(self.done)
            .saturating_sub(self.waiting.len());
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, _, d0)), Some(&(t1, _, d1))) if t1 > t0 && d1 > d0 && left > 0 => {
                let rate = (d1 - d0) as f64 / (t1 - t0).as_secs_f64();
                Some(Duration::from_secs_f64((left as f64 / rate).round()))
            }
            _ => None,
        }
    }

    /// `1,234/2,000 jobs (1200 applied, 4 failed); 12 waiting; 48.0 req/s; throttled 2× (...); 3 retries`.
    fn status(&self) -> String {
        let mut text = format!(
            "{}/{} {}",
            self.done,
            self.total_jobs,
            crate::text::noun_for(self.total_jobs, "job")
        );
        if self.done > 0 {
            text.push_str(&format!(" ({})", self.counts.describe()));
        }
        if !self.waiting.is_empty() {
            text.push_str(&format!("; {} waiting on gates", self.waiting.len()));
        }
        text.push_str(&format!("; {:.1} req/s", self.rate()));
        if let Some(left) = self.time_left() {
            text.push_str(&format!("; ~{} left at this rate", clock(left)));
        }
        if let Some((call, rate)) = self.last_throttle {
            text.push_str(&format!(
                "; throttled {}× ({call} now {rate:.1}/s)",
                self.throttles
            ));
        }
        if self.retries > 0 {
            text.push_str(&format!("; {}", plural(self.retries, "retry", "retries")));
        }
        text
    }

    /// The last line: counts, and calls over the whole run rather than the last few seconds.
    fn final_status(&self) -> String {
        let mut text = format!(
            "{}/{} {}",
            self.done,
            self.total_jobs,
            crate::text::noun_for(self.total_jobs, "job")
        );
        if self.done > 0 {
            text.push_str(&format!(" ({})", self.counts.describe()));
        }
        let seconds = self.elapsed.as_secs_f64();
        let average = if seconds > 0.0 {
            self.requests as f64 / seconds
        } else {
            0.0
        };
        text.push_str(&format!(
            "; {} in {} ({average:.1}/s)",
            plural(self.requests, "call", "calls"),
            clock(self.elapsed)
        ));
        if self.throttles > 0 {
            text.push_str(&format!("; throttled {}×", self.throttles));
        }
        if self.retries > 0 {
            text.push_str(&format!("; {}", plural(self.retries, "retry", "retries")));
        }
        text
    }

    fn entry_end_line(&self, entry: usize) -> Option<String> {
        let e = self.entries.get(entry)?;
        let took = self
            .elapsed
            .saturating_sub(e.started.unwrap_or(self.elapsed));
        Some(format!(
            "entry {} finished in {}: {}, {}",
            e.name,
            clock(took),
            crate::text::plural(e.done, "job"),
            e.counts.describe()
        ))
    }
}

/// `1 retry`, `2 retries`.
fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `m:ss`, or `h:mm:ss` from an hour on.
fn clock(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Shows a run's progress live on stderr (or any writer, for plain lines).
pub struct ProgressReporter {
    run: RunProgress,
    view: View,
}

enum View {
    Bars(Bars),
    Lines(Lines),
    Off,
}

impl std::fmt::Debug for ProgressReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let view = match self.view {
            View::Bars(_) => "bars",
            View::Lines(_) => "lines",
            View::Off => "off",
        };
        f.debug_struct("ProgressReporter")
            .field("view", &view)
            .finish_non_exhaustive()
    }
}

impl ProgressReporter {
    /// Progress on stderr as `mode` decides in this environment; bars attach to `log` so log lines print
    /// above them.
    pub fn new(mode: ProgressMode, log: &LogWriter) -> Self {
        match mode.resolve(&TermEnv::detect()) {
            ProgressOutput::Bars { color } => {
                // `term_like` draws even when stderr is not a terminal, which `--progress always` asks for.
                let target = ProgressDrawTarget::term_like_with_hz(
                    Box::new(console::Term::buffered_stderr()),
                    REFRESH_HZ,
                );
                Self::bars(target, color, Some(log.clone()))
            }
            // A closed stderr must not fail the reporter: a failing reporter cancels the run.
            ProgressOutput::Lines => Self::lines(Box::new(crate::console::Stderr), LINE_INTERVAL),
            ProgressOutput::Off => Self::off(),
        }
    }

    /// Bars drawn to `target`, attached to `log` when given.
    pub fn bars(target: ProgressDrawTarget, color: bool, log: Option<LogWriter>) -> Self {
        let bar = ProgressBar::with_draw_target(None, target)
            .with_style(ProgressStyle::with_template("{msg}").expect("a valid constant template"));
        if let Some(log) = &log {
            log.set(Some(bar.clone()));
        }
        Self {
            run: RunProgress::default(),
            view: View::Bars(Bars {
                bar,
                color,
                prefix_width: 0,
                started: false,
                log,
            }),
        }
    }

    /// Plain lines to `out`, one per `interval` of run time (as told by `tick`) and at each entry's end.
    pub fn lines(out: Box<dyn Write + Send>, interval: Duration) -> Self {
        Self {
            run: RunProgress::default(),
            view: View::Lines(Lines {
                out,
                interval,
                next_at: interval,
                running: false,
            }),
        }
    }

    /// No display (`--progress never`).
    pub fn off() -> Self {
        Self {
            run: RunProgress::default(),
            view: View::Off,
        }
    }
}

impl Reporter for ProgressReporter {
    fn name(&self) -> &str {
        "progress"
    }

    fn report(&mut self, event: &Event) -> std::io::Result<()> {
        if let View::Off = self.view {
            return Ok(());
        }
        self.run.observe(event);
        match &mut self.view {
            View::Bars(bars) => bars.report(&self.run, event),
            View::Lines(lines) => lines.report(&self.run, event),
            View::Off => Ok(()),
        }
    }

    fn tick(&mut self, elapsed: Duration) -> std::io::Result<()> {
        if let View::Off = self.view {
            return Ok(());
        }
        self.run.sample(elapsed);
        match &mut self.view {
            View::Bars(bars) => {
                bars.redraw(&self.run);
                Ok(())
            }
            View::Lines(lines) => lines.tick(&self.run),
            View::Off => Ok(()),
        }
    }
}

/// The terminal display: one indicatif bar whose multi-line message is the header and a line per entry.
///
/// One bar rather than a `MultiProgress` of many: each tick sets one message, so each tick is at most one
/// draw, and the rate limiter never drops a part of a tick's update (which would show a header and bars
/// from different moments).
struct Bars {
    bar: ProgressBar,
    color: bool,
    prefix_width: usize,
    started: bool,
    log: Option<LogWriter>,
}

/// Width of the drawn bar, in characters.
const BAR_WIDTH: usize = 30;

impl Bars {
    fn report(&mut self, run: &RunProgress, event: &Event) -> std::io::Result<()> {
        match &event.kind {
            EventKind::RunStarted(_) => {
                self.started = true;
                self.prefix_width = run
                    .entries
                    .iter()
                    .map(|e| e.name.chars().count())
                    .max()
                    .unwrap_or(0)
                    .min(24);
                self.redraw(run);
            }
            EventKind::EntryStarted { .. } => self.redraw(run),
            EventKind::EntryFinished { entry, .. } => {
                if let Some(line) = run.entry_end_line(*entry) {
                    self.bar.println(line);
                }
                self.redraw(run);
            }
            EventKind::RunFinished { interrupted } => {
                let tail = if *interrupted { " (interrupted)" } else { "" };
                self.bar
                    .println(format!("finished{tail}: {}", run.final_status()));
                self.bar.finish_and_clear();
                self.started = false;
                if let Some(log) = self.log.take() {
                    log.set(None);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Renders the counters into the bar's message; indicatif draws at most [`REFRESH_HZ`] times a second.
    fn redraw(&mut self, run: &RunProgress) {
        if self.started {
            self.bar.set_message(self.render(run));
        }
    }

    fn render(&self, run: &RunProgress) -> String {
        let verb = match run.mode {
            Some(RunMode::DryRun) => "dry run",
            Some(RunMode::Apply) | None => "apply",
        };
        let mut lines = vec![format!(
            "s3plan {verb} {} · {}",
            clock(run.elapsed),
            run.status()
        )];
        let mut running = run.entries.iter().filter(|e| e.running());
        for entry in running.by_ref().take(MAX_BARS) {
            let name = format!("{:<width$}", entry.name, width = self.prefix_width);
            let name = console::style(name).bold().force_styling(self.color);
            let bar = console::style(bar_text(entry.done, entry.total))
                .cyan()
                .force_styling(self.color);
            lines.push(format!(
                "{name} [{bar}] {}/{} {}",
                entry.done,
                entry.total,
                entry.status(run.elapsed)
            ));
        }
        let hidden = running.count();
        if hidden > 0 {
            lines.push(format!("and {hidden} more entries running"));
        }
        lines.join("\n")
    }
}

/// `=====>      ` for `done` of `total`, [`BAR_WIDTH`] wide.
fn bar_text(done: usize, total: usize) -> String {
    let filled = (done * BAR_WIDTH)
        .checked_div(total)
        .unwrap_or(BAR_WIDTH)
        .min(BAR_WIDTH);
    let mut text = "=".repeat(filled);
    if filled < BAR_WIDTH {
        text.push('>');
        text.push_str(&" ".repeat(BAR_WIDTH - filled - 1));
    }
    text
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some(log) = self.log.take() {
            log.set(None);
        }
    }
}

struct Lines {
    out: Box<dyn Write + Send>,
    interval: Duration,
    next_at: Duration,
    running: bool,
}

impl Lines {
    fn report(&mut self, run: &RunProgress, event: &Event) -> std::io::Result<()> {
        match &event.kind {
            EventKind::RunStarted(info) => {
                self.running = true;
                let verb = match info.mode {
                    RunMode::Apply => "apply",
                    RunMode::DryRun => "dry run",
                };
                let place = match info.targets.as_slice() {
                    [only] if !info.is_multi_target() => {
                        format!("account {}, region {}", only.account_id, only.region)
                    }
                    targets => {
                        let listed: Vec<String> = targets
                            .iter()
                            .map(|t| {
                                format!("{} (account {}, {})", t.label(), t.account_id, t.region)
                            })
                            .collect();
                        format!(
                            "{}: {}",
                            crate::text::plural(targets.len(), "target"),
                            listed.join(", ")
                        )
                    }
                };
                writeln!(
                    self.out,
                    "[{}] {verb}: {} in {}, {place}",
                    clock(event.elapsed),
                    crate::text::plural(info.total_jobs, "job"),
                    crate::text::plural(info.entries.len(), "entry"),
                )?;
            }
            EventKind::EntryFinished { entry, .. } => {
                if let Some(line) = run.entry_end_line(*entry) {
                    writeln!(self.out, "[{}] {line}", clock(event.elapsed))?;
                }
            }
            EventKind::RunFinished { interrupted } => {
                self.running = false;
                let tail = if *interrupted { " (interrupted)" } else { "" };
                writeln!(
                    self.out,
                    "[{}] finished{tail}: {}",
                    clock(event.elapsed),
                    run.final_status()
                )?;
            }
            _ => return Ok(()),
        }
        self.out.flush()
    }

    fn tick(&mut self, run: &RunProgress) -> std::io::Result<()> {
        if !self.running || run.elapsed < self.next_at {
            return Ok(());
        }
        // A steady pace on the run's clock: a slow tick skips lines rather than bunching them.
        while self.next_at <= run.elapsed {
            self.next_at += self.interval.max(Duration::from_millis(1));
        }
        writeln!(self.out, "[{}] {}", clock(run.elapsed), run.status())?;
        let running: Vec<&EntryProgress> = run.entries.iter().filter(|e| e.running()).collect();
        for entry in running.iter().take(MAX_ENTRY_LINES) {
            writeln!(
                self.out,
                "    {}: {}/{}, {}",
                entry.name,
                entry.done,
                entry.total,
                entry.status(run.elapsed)
            )?;
        }
        if running.len() > MAX_ENTRY_LINES {
            writeln!(
                self.out,
                "    and {} more entries running",
                running.len() - MAX_ENTRY_LINES
            )?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::{AccountId, ApiError, ApiErrorKind, JobId, JobStatus, TargetStatus};
    use crate::event::{JobRecord, RunInfo};
    use crate::exec::Outcome;
    use crate::report::run_record::fixtures::SharedBuf;
    use crate::resolved::Target;

    #[test]
    fn modes_follow_the_terminal_and_the_environment() {
        let env = |is_terminal: bool, term: Option<&str>, no_color: bool| TermEnv {
            is_terminal,
            term: term.map(str::to_owned),
            no_color,
        };
        let bars = |color| ProgressOutput::Bars { color };
        for (mode, env, expected) in [
            (
                ProgressMode::Auto,
                env(true, Some("xterm"), false),
                bars(true),
            ),
            (
                ProgressMode::Auto,
                env(true, Some("xterm"), true),
                bars(false),
            ),
            (
                ProgressMode::Auto,
                env(true, Some("dumb"), false),
                ProgressOutput::Lines,
            ),
            (
                ProgressMode::Auto,
                env(true, None, false),
                ProgressOutput::Lines,
            ),
            (
                ProgressMode::Auto,
                env(false, Some("xterm"), false),
                ProgressOutput::Lines,
            ),
            (
                ProgressMode::Always,
                env(false, Some("xterm"), false),
                bars(true),
            ),
            (ProgressMode::Always, env(false, None, true), bars(false)),
            (
                ProgressMode::Always,
                env(true, Some("dumb"), false),
                ProgressOutput::Lines,
            ),
            (
                ProgressMode::Never,
                env(true, Some("xterm"), false),
                ProgressOutput::Off,
            ),
            (
                ProgressMode::Never,
                env(false, None, false),
                ProgressOutput::Off,
            ),
        ] {
            assert_eq!(mode.resolve(&env), expected, "{mode:?} in {env:?}");
        }
    }

    fn at(elapsed: Duration, kind: EventKind) -> Event {
        Event {
            at: jiff::Timestamp::from_second(1_780_000_000).unwrap()
                + jiff::SignedDuration::try_from(elapsed).unwrap(),
            elapsed,
            kind,
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn info(entries: &[(&str, usize)]) -> EventKind {
        EventKind::RunStarted(Arc::new(RunInfo {
            targets: vec![Target {
                name: None,
                account_id: AccountId::parse("111122223333").unwrap(),
                region: "us-east-1".to_owned(),
                endpoint: None,
            }],
            mode: RunMode::Apply,
            entries: entries.iter().map(|(n, c)| (Arc::from(*n), *c)).collect(),
            total_jobs: entries.iter().map(|(_, c)| c).sum(),
        }))
    }

    fn index(entry: usize, job: usize) -> JobIndex {
        JobIndex { entry, job }
    }

    fn job_id(entry: usize, job: usize) -> JobId {
        JobId::parse(&format!("job-{entry}-{job}")).unwrap()
    }

    fn finished(entry: usize, job: usize, outcome: Outcome) -> EventKind {
        let now = jiff::Timestamp::from_second(1_780_000_000).unwrap();
        EventKind::JobFinished(Box::new(JobRecord {
            index: index(entry, job),
            target: 0,
            entry: Arc::from(format!("entry-{entry}")),
            job_id: job_id(entry, job),
            description: None,
            status_before: Some(JobStatus::Active),
            actions: vec![crate::resolved::Action::SetStatus(TargetStatus::Cancelled)],
            status_after: None,
            outcome,
            attempts: 1,
            waited: Duration::ZERO,
            reason: None,
            request_id: None,
            error: None,
            tasks: None,
            failure_reasons: Vec::new(),
            started_at: now,
            finished_at: now,
        }))
    }

    fn waiting(entry: usize, job: usize) -> EventKind {
        EventKind::JobWaiting {
            index: index(entry, job),
            job: job_id(entry, job),
            gate: GateView {
                subject: GateSubject::OtherJob {
                    target: 0,
                    job: JobId::parse("job-upstream").unwrap(),
                },
                statuses: vec![JobStatus::Complete],
                timeout: Duration::from_secs(600),
                tasks: None,
            },
        }
    }

    fn attempt(entry: usize, job: usize) -> EventKind {
        EventKind::AttemptStarted {
            index: Some(index(entry, job)),
            call: ApiCall::UpdateJobStatus,
            attempt: 1,
        }
    }

    /// Feeds `script` in order: `Some(event)` is reported, `None` with a time is a tick.
    fn play(reporter: &mut ProgressReporter, script: Vec<(Duration, Option<EventKind>)>) {
        for (elapsed, kind) in script {
            match kind {
                Some(kind) => reporter.report(&at(elapsed, kind)).unwrap(),
                None => reporter.tick(elapsed).unwrap(),
            }
        }
    }

    #[test]
    fn plain_lines_come_at_a_steady_pace_and_at_each_entry_end() {
        let buffer = SharedBuf::default();
        let mut reporter = ProgressReporter::lines(Box::new(buffer.clone()), LINE_INTERVAL);
        let mut script = vec![
            (
                secs(0.0),
                Some(info(&[("cancel-nightly", 4), ("confirm-after", 2)])),
            ),
            (secs(0.0), Some(EventKind::EntryStarted { entry: 0 })),
            (secs(0.0), Some(EventKind::EntryStarted { entry: 1 })),
            (secs(0.1), Some(waiting(1, 0))),
            (secs(0.1), Some(waiting(1, 1))),
        ];
        // Ten calls a second for 6 s, ticks every 200 ms.
        for step in 1..=30 {
            let t = secs(step as f64 * 0.2);
            script.push((t, Some(attempt(0, 0))));
            script.push((t, Some(attempt(0, 1))));
            script.push((t, None));
        }
        script.extend([
            (
                secs(6.1),
                Some(EventKind::Throttled {
                    call: ApiCall::UpdateJobStatus,
                    rate: 40.0,
                }),
            ),
            (
                secs(6.2),
                Some(EventKind::Retrying {
                    index: Some(index(0, 2)),
                    call: ApiCall::UpdateJobStatus,
                    attempt: 1,
                    delay: Duration::from_millis(100),
                    error: ApiError {
                        call: ApiCall::UpdateJobStatus,
                        kind: ApiErrorKind::Throttled,
                        code: Some("SlowDown".to_owned()),
                        message: None,
                        request_id: None,
                        http_status: Some(503),
                    },
                }),
            ),
            (secs(6.5), Some(finished(0, 0, Outcome::Applied))),
            (secs(6.5), Some(finished(0, 1, Outcome::Applied))),
            (secs(7.0), Some(finished(0, 2, Outcome::Failed))),
            (secs(7.0), Some(finished(0, 3, Outcome::Unchanged))),
            (
                secs(7.0),
                Some(EventKind::EntryFinished {
                    entry: 0,
                    succeeded: false,
                }),
            ),
            (secs(8.0), None),
            (secs(9.9), None),
            (secs(10.0), None),
            (secs(10.2), None),
            (
                secs(11.0),
                Some(EventKind::JobApplying {
                    index: index(1, 0),
                    job: job_id(1, 0),
                    status: JobStatus::Suspended,
                }),
            ),
            (secs(11.5), Some(finished(1, 0, Outcome::Applied))),
            (secs(11.5), Some(finished(1, 1, Outcome::TimedOut))),
            (
                secs(11.5),
                Some(EventKind::EntryFinished {
                    entry: 1,
                    succeeded: false,
                }),
            ),
            (
                secs(12.0),
                Some(EventKind::RunFinished { interrupted: false }),
            ),
            // Ticks after the end print nothing.
            (secs(15.0), None),
            (secs(20.0), None),
        ]);
        play(&mut reporter, script);
        let text = buffer.text();
        let stamps: Vec<&str> = text.lines().filter_map(|l| l.get(..6)).collect();
        assert_eq!(
            stamps,
            [
                "[0:00]", "[0:05]", "    ca", "    co", "[0:07]", "[0:10]", "    co", "[0:11]",
                "[0:12]"
            ]
        );
        insta::assert_snapshot!(text);
    }

    fn screen_text(reporter: &ProgressReporter) -> String {
        let View::Bars(bars) = &reporter.view else {
            panic!("not bars");
        };
        bars.bar.message()
    }

    #[test]
    fn bars_show_running_entries_and_what_they_wait_for() {
        let mut reporter = ProgressReporter::bars(ProgressDrawTarget::hidden(), false, None);
        let entries: Vec<(String, usize)> = (0..MAX_BARS + 2)
            .map(|i| (format!("entry-{i}"), 3))
            .collect();
        let names: Vec<(&str, usize)> = entries.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        let mut script = vec![(secs(0.0), Some(info(&names)))];
        for entry in 0..MAX_BARS + 2 {
            script.push((secs(0.0), Some(EventKind::EntryStarted { entry })));
        }
        script.extend([
            (secs(0.5), Some(waiting(0, 1))),
            (secs(0.5), Some(waiting(0, 2))),
            (secs(1.0), Some(finished(0, 0, Outcome::Applied))),
            (secs(1.0), None),
        ]);
        play(&mut reporter, script);
        let text = screen_text(&reporter);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + MAX_BARS + 1, "{text}");
        assert!(
            lines[0].starts_with("s3plan apply 0:01 · 1/30 jobs (1 applied); 2 waiting on gates"),
            "{text}"
        );
        assert_eq!(
            lines[1],
            "entry-0 [==========>                   ] 1/3 1 applied; 2 waiting for job job-upstream to be Complete (gives up in 9:59)"
        );
        assert_eq!(
            lines[2],
            "entry-1 [>                             ] 0/3 started"
        );
        assert_eq!(lines[MAX_BARS + 1], "and 2 more entries running");

        // An entry ending frees its line for a running one.
        let mut script = Vec::new();
        for job in 1..3 {
            script.push((secs(2.0), Some(finished(0, job, Outcome::Applied))));
        }
        script.push((
            secs(2.0),
            Some(EventKind::EntryFinished {
                entry: 0,
                succeeded: true,
            }),
        ));
        play(&mut reporter, script);
        let text = screen_text(&reporter);
        assert!(!text.contains("entry-0 "), "{text}");
        assert!(text.contains(&format!("entry-{MAX_BARS} [")), "{text}");
        assert!(text.ends_with("and 1 more entries running"), "{text}");
    }

    #[test]
    fn bars_use_color_only_when_asked() {
        for color in [false, true] {
            let mut reporter = ProgressReporter::bars(ProgressDrawTarget::hidden(), color, None);
            play(
                &mut reporter,
                vec![
                    (secs(0.0), Some(info(&[("only", 2)]))),
                    (secs(0.0), Some(EventKind::EntryStarted { entry: 0 })),
                ],
            );
            assert_eq!(screen_text(&reporter).contains('\u{1b}'), color);
        }
    }

    /// A terminal that keeps what is drawn and counts the frames.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<std::sync::Mutex<(String, usize)>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            160
        }
        fn move_cursor_up(&self, _n: usize) -> std::io::Result<()> {
            self.0.lock().unwrap().1 += 1;
            Ok(())
        }
        fn move_cursor_down(&self, _n: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _n: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _n: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            let mut screen = self.0.lock().unwrap();
            screen.0.push_str(s);
            screen.0.push('\n');
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().0.push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bars_draw_on_a_terminal_at_a_limited_rate() {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(screen.clone()), REFRESH_HZ);
        let mut reporter = ProgressReporter::bars(target, false, None);
        let jobs = 20_000;
        let mut script = vec![
            (secs(0.0), Some(info(&[("cancel-nightly", jobs)]))),
            (secs(0.0), Some(EventKind::EntryStarted { entry: 0 })),
        ];
        // A tick after every 10 jobs: 2,000 ticks in a burst of real time far shorter than 200 s.
        for job in 0..jobs {
            let t = secs(job as f64 * 0.001);
            script.push((t, Some(attempt(0, job))));
            script.push((t, Some(finished(0, job, Outcome::Applied))));
            if job % 10 == 9 {
                script.push((t, None));
            }
        }
        play(&mut reporter, script);
        let (text, frames) = screen.0.lock().unwrap().clone();
        assert!(
            text.contains("cancel-nightly [") && text.contains("applied"),
            "{text}"
        );
        assert!(frames < 200, "{frames} frames for 2,000 ticks");
        reporter
            .report(&at(
                secs(20.0),
                EventKind::RunFinished { interrupted: false },
            ))
            .unwrap();
        let text = screen.0.lock().unwrap().0.clone();
        assert!(
            text.contains("finished: 20000/20000 jobs (20000 applied)"),
            "{text}"
        );
    }

    #[test]
    fn bars_attach_the_log_writer_until_the_run_ends() {
        let log = LogWriter::new();
        let mut reporter =
            ProgressReporter::bars(ProgressDrawTarget::hidden(), true, Some(log.clone()));
        assert!(log.bars.lock().unwrap().is_some());
        play(
            &mut reporter,
            vec![
                (secs(0.0), Some(info(&[("only", 0)]))),
                (
                    secs(0.1),
                    Some(EventKind::RunFinished { interrupted: false }),
                ),
            ],
        );
        assert!(log.bars.lock().unwrap().is_none());
    }

    fn polled(seen: &[(&str, JobStatus, i64, i64, i64)]) -> EventKind {
        EventKind::GatePolled {
            waiting: seen.len(),
            reads: 1,
            listed: false,
            seen: seen
                .iter()
                .map(
                    |(id, status, total, ok, failed)| crate::event::WatchedView {
                        job: JobId::parse(id).unwrap(),
                        status: *status,
                        tasks: Progress {
                            total_tasks: *total,
                            succeeded_tasks: *ok,
                            failed_tasks: *failed,
                            elapsed_active_seconds: 0,
                        },
                    },
                )
                .collect(),
        }
    }

    fn own_waiting(entry: usize, job: usize, timeout: u64) -> EventKind {
        EventKind::JobWaiting {
            index: index(entry, job),
            job: job_id(entry, job),
            gate: GateView {
                subject: GateSubject::OwnStatus,
                statuses: vec![JobStatus::Suspended],
                timeout: Duration::from_secs(timeout),
                tasks: None,
            },
        }
    }

    #[test]
    fn waiting_entries_show_the_watched_job_its_tasks_and_when_the_gate_gives_up() {
        let buffer = SharedBuf::default();
        let mut reporter = ProgressReporter::lines(Box::new(buffer.clone()), LINE_INTERVAL);
        play(
            &mut reporter,
            vec![
                (secs(0.0), Some(info(&[("after-upstream", 2), ("own", 3)]))),
                (secs(0.0), Some(EventKind::EntryStarted { entry: 0 })),
                (secs(0.0), Some(EventKind::EntryStarted { entry: 1 })),
                (secs(1.0), Some(waiting(0, 0))),
                (secs(2.0), Some(waiting(0, 1))),
                (secs(1.0), Some(own_waiting(1, 0, 3600))),
                (secs(1.0), Some(own_waiting(1, 1, 3600))),
                (secs(1.0), Some(own_waiting(1, 2, 3600))),
                // A round that read the upstream job and two of the three own jobs.
                (
                    secs(3.0),
                    Some(polled(&[
                        ("job-upstream", JobStatus::Active, 100, 38, 2),
                        ("job-1-0", JobStatus::Active, 1000, 500, 0),
                        ("job-1-1", JobStatus::Active, 3000, 10, 7),
                        ("job-unrelated", JobStatus::Active, 5, 5, 0),
                    ])),
                ),
                (secs(5.0), None),
                // The upstream job moves on; the next round shows it.
                (
                    secs(8.0),
                    Some(polled(&[(
                        "job-upstream",
                        JobStatus::Complete,
                        100,
                        90,
                        10,
                    )])),
                ),
                (secs(10.0), None),
            ],
        );
        let text = buffer.text();
        assert!(
            text.contains(
                "    after-upstream: 0/2, started; 2 waiting for job job-upstream to be Complete \
                 (now Active; tasks 40/100, 2 failed; gives up in 9:56)"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "    own: 0/3, started; 3 waiting for own status Suspended (tasks 517/4000, 7 failed; \
                 gives up in 59:56)"
            ),
            "{text}"
        );
        assert!(
            text.contains("(now Complete; tasks 100/100, 10 failed; gives up in 9:51)"),
            "{text}"
        );

        // Once its jobs stop waiting, an entry shows neither the watched job nor a countdown.
        play(
            &mut reporter,
            vec![
                (
                    secs(11.0),
                    Some(EventKind::JobApplying {
                        index: index(0, 0),
                        job: job_id(0, 0),
                        status: JobStatus::Suspended,
                    }),
                ),
                (secs(11.0), Some(finished(0, 1, Outcome::Failed))),
                (secs(15.0), None),
            ],
        );
        let text = buffer.text();
        let last = text
            .lines()
            .rev()
            .find(|l| l.contains("after-upstream"))
            .unwrap();
        assert_eq!(last, "    after-upstream: 1/2, 1 failed", "{text}");
    }

    #[test]
    fn time_left_follows_the_rate_jobs_finish_at_and_leaves_out_waiting_jobs() {
        let mut run = RunProgress::default();
        run.observe(&at(secs(0.0), info(&[("a", 110)])));
        run.observe(&at(secs(0.0), EventKind::EntryStarted { entry: 0 }));
        assert_eq!(run.time_left(), None);
        for job in 100..110 {
            run.observe(&at(secs(0.0), own_waiting(0, job, 600)));
        }
        // Ten jobs a second for 5 s: 50 done, 50 to go outside the 10 waiting ones.
        for step in 0..=50 {
            if step > 0 {
                run.observe(&at(
                    secs(step as f64 * 0.1),
                    finished(0, step - 1, Outcome::Applied),
                ));
            }
            run.sample(secs(step as f64 * 0.1));
        }
        assert_eq!(run.time_left(), Some(Duration::from_secs(5)));
        assert!(
            run.status().contains("; ~0:05 left at this rate"),
            "{}",
            run.status()
        );
        // Nothing finishing for a whole window: no estimate rather than a wrong one.
        for step in 51..=110 {
            run.sample(secs(step as f64 * 0.1));
        }
        assert_eq!(run.time_left(), None);
        assert!(!run.status().contains("left"), "{}", run.status());
    }

    #[test]
    fn rate_is_measured_over_the_last_window() {
        let mut run = RunProgress::default();
        // 100 calls a second for 10 s, then 10 a second for 5 s.
        let mut t = 0.0;
        while t < 15.0 {
            t += 0.1;
            let calls = if t <= 10.0 { 10 } else { 1 };
            for _ in 0..calls {
                run.observe(&at(secs(t), attempt(0, 0)));
            }
            run.sample(secs(t));
        }
        assert!((run.rate() - 10.0).abs() < 0.5, "{}", run.rate());
        assert!(run.samples.len() <= 52, "{}", run.samples.len());
    }

    #[test]
    fn a_run_over_several_targets_lists_them_and_names_the_watched_jobs_target() {
        let buffer = SharedBuf::default();
        let mut reporter = ProgressReporter::lines(Box::new(buffer.clone()), LINE_INTERVAL);
        let EventKind::RunStarted(one) = info(&[("cancel-nightly", 1), ("confirm-dr", 2)]) else {
            unreachable!("info gives RunStarted")
        };
        let mut multi = (*one).clone();
        multi.targets = crate::report::run_record::fixtures::three_targets();
        let in_dr = |job: usize| {
            let EventKind::JobWaiting {
                index,
                job,
                mut gate,
            } = waiting(1, job)
            else {
                unreachable!("waiting gives JobWaiting")
            };
            gate.subject = GateSubject::OtherJob {
                target: 2,
                job: JobId::parse("job-upstream").unwrap(),
            };
            EventKind::JobWaiting { index, job, gate }
        };
        play(
            &mut reporter,
            vec![
                (secs(0.0), Some(EventKind::RunStarted(Arc::new(multi)))),
                (secs(0.0), Some(EventKind::EntryStarted { entry: 0 })),
                (secs(0.0), Some(EventKind::EntryStarted { entry: 1 })),
                (secs(0.1), Some(in_dr(0))),
                (secs(0.1), Some(in_dr(1))),
                (
                    secs(1.0),
                    Some(polled(&[("job-upstream", JobStatus::Active, 100, 40, 2)])),
                ),
                (secs(5.0), None),
            ],
        );
        let text = buffer.text();
        assert!(
            text.contains("waiting for job job-upstream in dr/us-west-2 to be Complete (now Active; tasks 42/100, 2 failed;"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_run_without_targets_names_no_target() {
        let buffer = SharedBuf::default();
        let mut reporter = ProgressReporter::lines(Box::new(buffer.clone()), LINE_INTERVAL);
        play(
            &mut reporter,
            vec![
                (secs(0.0), Some(info(&[("confirm-after", 1)]))),
                (secs(0.0), Some(EventKind::EntryStarted { entry: 0 })),
                (secs(0.1), Some(waiting(0, 0))),
                (secs(5.0), None),
            ],
        );
        let text = buffer.text();
        assert!(
            text.starts_with(
                "[0:00] apply: 1 job in 1 entry, account 111122223333, region us-east-1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("1 waiting for job job-upstream to be Complete"),
            "{text}"
        );
    }
}
