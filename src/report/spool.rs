//! The report writers' spool: finished job records kept on disk, not in memory, until the run ends.
//!
//! Owns [`JobSpool`]: each `JobFinished` record is appended as one line of JSON to an unnamed temporary file
//! (the operating system removes it when the process ends, even after a crash), and only a slot of 8 bytes
//! stays in memory, at the job's place in the plan, instead of the ~0.4 KiB record: the line's byte offset
//! and the job's target, packed together. At the end, [`JobSpool::rows`] reads one entry's records back in
//! plan order, all of them or one target's (the target is in the slot, so the other targets' lines are not
//! read), through a read-ahead buffer that grows while the lines it reads are used (jobs finish roughly in
//! plan order, so most records are already buffered) and shrinks when they are not (one target's lines
//! among 400 are far apart). Does not own what is counted or summed over the records (`run_record.rs`),
//! nor the formats rendered from them.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use crate::event::JobRecord;

/// No record for this job (yet).
const ABSENT: u64 = u64::MAX;

/// Bits of a slot that hold the line's byte offset (a spool of up to 1 TiB); the bits above hold the
/// target's index.
const OFFSET_BITS: u32 = 40;

const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;

/// Targets a slot can name: every value of the target bits but all ones, so no slot is [`ABSENT`].
const MAX_TARGETS: u64 = (1 << (64 - OFFSET_BITS)) - 1;

/// The most bytes read from the spool at a time: about five hundred records.
const READ_AHEAD: usize = 256 * 1024;

/// The fewest bytes read from the spool at a time: a record or a few.
const MIN_READ: usize = 4 * 1024;

/// Finished records on disk, indexed by their place in the plan.
#[derive(Debug)]
pub(crate) struct JobSpool {
    out: BufWriter<File>,
    written: u64,
    line: Vec<u8>,
    /// `slots[entry][job]`: the job's target and where its line starts, or [`ABSENT`].
    slots: Vec<Vec<u64>>,
}

impl JobSpool {
    /// An empty spool in an unnamed temporary file of `dir`.
    pub(crate) fn create_in(dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            out: BufWriter::new(tempfile::tempfile_in(dir)?),
            written: 0,
            line: Vec::new(),
            slots: Vec::new(),
        })
    }

    /// Appends `record`. A second record for the same job replaces the first in [`JobSpool::rows`].
    pub(crate) fn push(&mut self, record: &JobRecord) -> std::io::Result<()> {
        let target = u64::try_from(record.target)
            .ok()
            .filter(|t| *t < MAX_TARGETS)
            .ok_or_else(|| {
                std::io::Error::other(format!(
                    "the report spool holds at most {MAX_TARGETS} targets, not {}",
                    record.target + 1
                ))
            })?;
        if self.written > OFFSET_MASK {
            return Err(std::io::Error::other(
                "the report spool holds at most 1 TiB of job records",
            ));
        }
        self.line.clear();
        serde_json::to_writer(&mut self.line, record)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        let index = record.index;
        if self.slots.len() <= index.entry {
            self.slots.resize_with(index.entry + 1, Vec::new);
        }
        let jobs = &mut self.slots[index.entry];
        if jobs.len() <= index.job {
            jobs.resize(index.job + 1, ABSENT);
        }
        jobs[index.job] = target << OFFSET_BITS | self.written;
        self.written += self.line.len() as u64;
        Ok(())
    }

    /// Writes out what is buffered; call before reading.
    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// The records of entry `entry` in plan order (those of target `target` only, when given), each named
    /// `name`; call after [`JobSpool::flush`].
    pub(crate) fn rows(
        &self,
        entry: usize,
        target: Option<usize>,
        name: Arc<str>,
    ) -> SpoolRows<'_> {
        let slots: &[u64] = self.slots.get(entry).map_or(&[], Vec::as_slice);
        SpoolRows {
            file: self.out.get_ref(),
            slots: slots.iter(),
            target: target.map(|t| u64::try_from(t).unwrap_or(u64::MAX)),
            buffer: Vec::new(),
            start: 0,
            window: READ_AHEAD,
            used: 0,
            name,
        }
    }
}

/// One entry's spooled records, read back in plan order.
pub(crate) struct SpoolRows<'a> {
    file: &'a File,
    slots: std::slice::Iter<'a, u64>,
    /// Only this target's records, when given.
    target: Option<u64>,
    /// Bytes of the file from `start` on.
    buffer: Vec<u8>,
    start: u64,
    /// Bytes the next refill reads.
    window: usize,
    /// Bytes of the buffer's lines read so far.
    used: usize,
    name: Arc<str>,
}

impl SpoolRows<'_> {
    fn read(&mut self, offset: u64) -> std::io::Result<JobRecord> {
        let line = match self.buffered(offset) {
            Some(line) => line,
            None => self.fill(offset)?,
        };
        self.used += line.len() + 1;
        let mut record: JobRecord = serde_json::from_slice(&self.buffer[line])?;
        record.entry = self.name.clone();
        Ok(record)
    }

    /// Where the line at `offset` sits in the buffer, if it is there whole.
    fn buffered(&self, offset: u64) -> Option<std::ops::Range<usize>> {
        let at = usize::try_from(offset.checked_sub(self.start)?).ok()?;
        let rest = self.buffer.get(at..)?;
        let end = rest.iter().position(|b| *b == b'\n')?;
        Some(at..at + end)
    }

    /// Refills the buffer from `offset` until it holds the whole line there. Reads twice as much as last
    /// time when at least half of the last buffer was used, else half as much.
    fn fill(&mut self, offset: u64) -> std::io::Result<std::ops::Range<usize>> {
        if !self.buffer.is_empty() {
            self.window = if self.used * 2 >= self.buffer.len() {
                (self.window * 2).min(READ_AHEAD)
            } else {
                (self.window / 2).max(MIN_READ)
            };
        }
        let mut file = self.file;
        file.seek(SeekFrom::Start(offset))?;
        self.buffer.clear();
        self.start = offset;
        self.used = 0;
        loop {
            let old = self.buffer.len();
            self.buffer.resize(old + self.window, 0);
            let read = file.read(&mut self.buffer[old..])?;
            self.buffer.truncate(old + read);
            if read == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the report spool ends inside a job record",
                ));
            }
            if let Some(end) = self.buffer[old..].iter().position(|b| *b == b'\n') {
                return Ok(0..old + end);
            }
        }
    }
}

impl Iterator for SpoolRows<'_> {
    type Item = std::io::Result<JobRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        let target = self.target;
        let slot = self
            .slots
            .by_ref()
            .copied()
            .find(|slot| *slot != ABSENT && target.is_none_or(|t| slot >> OFFSET_BITS == t))?;
        Some(self.read(slot & OFFSET_MASK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, JobIndex};
    use crate::report::run_record::fixtures::run_events;
    use crate::resolved::RunMode;

    fn records() -> Vec<JobRecord> {
        run_events(RunMode::Apply, false)
            .into_iter()
            .filter_map(|event| match event.kind {
                EventKind::JobFinished(record) => Some(*record),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn records_come_back_whole_in_plan_order_with_their_entry_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = JobSpool::create_in(dir.path()).unwrap();
        let records = records();
        for record in &records {
            spool.push(record).unwrap();
        }
        spool.flush().unwrap();
        for entry in [0, 1] {
            let name: Arc<str> = records
                .iter()
                .find(|r| r.index.entry == entry)
                .map(|r| r.entry.clone())
                .unwrap();
            let back: Vec<JobRecord> = spool
                .rows(entry, None, name)
                .collect::<std::io::Result<_>>()
                .unwrap();
            let mut expected: Vec<JobRecord> = records
                .iter()
                .filter(|r| r.index.entry == entry)
                .cloned()
                .collect();
            expected.sort_by_key(|r| r.index);
            assert_eq!(back, expected, "entry {entry}");
        }
        assert_eq!(spool.rows(2, None, Arc::from("none")).count(), 0);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(names.is_empty(), "the spool has no name on disk");
    }

    #[test]
    fn records_longer_than_the_read_ahead_and_jobs_without_a_record_are_read_right() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = JobSpool::create_in(dir.path()).unwrap();
        let template = records().remove(0);
        // Jobs 0..3000 finish backwards, job 1500 never finishes, job 7 has a description bigger than the
        // read-ahead buffer.
        let mut pushed = Vec::new();
        for job in (0..3000).rev().filter(|job| *job != 1500) {
            let mut record = template.clone();
            record.index = JobIndex { entry: 0, job };
            record.description = Some(if job == 7 {
                "x".repeat(READ_AHEAD * 2 + 5)
            } else {
                format!("job {job}")
            });
            spool.push(&record).unwrap();
            pushed.push(record);
        }
        spool.flush().unwrap();
        pushed.sort_by_key(|r| r.index);
        let back: Vec<JobRecord> = spool
            .rows(0, None, template.entry.clone())
            .collect::<std::io::Result<_>>()
            .unwrap();
        assert_eq!(back.len(), 2999);
        assert_eq!(back, pushed);
    }

    #[test]
    fn one_targets_records_come_back_alone_in_plan_order_among_four_hundred() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = JobSpool::create_in(dir.path()).unwrap();
        let template = records().remove(0);
        // 400 targets of 10 jobs each, the plan listing each target's jobs together, finishing a job of
        // each target in turn (as the scheduler interleaves them); one record bigger than the read-ahead.
        let (targets, per_target) = (400, 10);
        let mut pushed = Vec::new();
        for round in 0..per_target {
            for target in 0..targets {
                let mut record = template.clone();
                record.target = target;
                record.index = JobIndex {
                    entry: 0,
                    job: target * per_target + round,
                };
                record.description = Some(if (target, round) == (7, 3) {
                    "y".repeat(READ_AHEAD + 1)
                } else {
                    format!("target {target} round {round}")
                });
                spool.push(&record).unwrap();
                pushed.push(record);
            }
        }
        spool.flush().unwrap();
        pushed.sort_by_key(|r| r.index);
        for target in [0, 7, 399] {
            let back: Vec<JobRecord> = spool
                .rows(0, Some(target), template.entry.clone())
                .collect::<std::io::Result<_>>()
                .unwrap();
            let expected: Vec<JobRecord> = pushed
                .iter()
                .filter(|r| r.target == target)
                .cloned()
                .collect();
            assert_eq!(back, expected, "target {target}");
        }
        assert_eq!(spool.rows(0, Some(400), template.entry.clone()).count(), 0);
        let all: Vec<JobRecord> = spool
            .rows(0, None, template.entry.clone())
            .collect::<std::io::Result<_>>()
            .unwrap();
        assert_eq!(all, pushed);
    }
}
