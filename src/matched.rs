//! `MatchSample`: what a selector over its `max_jobs` matched, in brief — the first jobs and counts by status
//! and by description prefix — so a refusal shows the operator what to narrow instead of a bare count.
//!
//! Owns only the summary and its rendering; the refusal itself is `resolve::ResolveError::TooManyJobs`.

use std::collections::BTreeMap;
use std::fmt;

use crate::resolved::ResolvedJob;
use crate::text::{noun_for, plural};

/// Jobs listed one by one in a refusal.
pub const SAMPLE_JOBS: usize = 10;
/// Description prefixes counted in a refusal (the most common ones).
pub const TOP_PREFIXES: usize = 5;

/// The first jobs a selector matched and how all of them break down.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatchSample {
    /// The first [`SAMPLE_JOBS`] jobs, in resolution order.
    pub first: Vec<ResolvedJob>,
    /// Every match counted.
    pub total: usize,
    /// Matches per status, most common first.
    pub by_status: Vec<(String, usize)>,
    /// Matches per description prefix (`bulk-a-*`), most common first, at most [`TOP_PREFIXES`].
    pub by_prefix: Vec<(String, usize)>,
    /// Prefixes beyond those, and the jobs they hold.
    pub other_prefixes: (usize, usize),
}

impl MatchSample {
    /// The summary of `jobs`.
    pub fn of(jobs: &[ResolvedJob]) -> Self {
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        let mut prefixes: BTreeMap<String, usize> = BTreeMap::new();
        for job in jobs {
            *statuses.entry(job.status_seen.to_string()).or_default() += 1;
            let prefix = job.description.as_deref().map_or_else(
                || "(no description)".to_owned(),
                |text| one_line(&description_prefix(text)),
            );
            *prefixes.entry(prefix).or_default() += 1;
        }
        let by_status = most_common_first(statuses);
        let mut by_prefix = most_common_first(prefixes);
        let rest = by_prefix.split_off(by_prefix.len().min(TOP_PREFIXES));
        Self {
            first: jobs.iter().take(SAMPLE_JOBS).cloned().collect(),
            total: jobs.len(),
            by_status,
            by_prefix,
            other_prefixes: (rest.len(), rest.iter().map(|(_, n)| n).sum()),
        }
    }
}

/// Counts sorted by count (largest first), then by name, so the rendering is stable.
fn most_common_first(counts: BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// The part of a description that names its family, as a glob a selector can use: a trailing run of digits
/// and separators is cut, keeping the first separator (`bulk-a-0001` and `reindex-2024-03` give `bulk-a-*`
/// and `reindex-*`); without one, the text up to its last `-` (`nightly-eu` gives `nightly-*`); a
/// description with neither is its own family.
pub fn description_prefix(description: &str) -> String {
    let is_separator = |c: char| matches!(c, '-' | '_' | '.' | ':' | '/' | ' ');
    let stem = description.trim_end_matches(|c: char| c.is_ascii_digit() || is_separator(c));
    if stem.len() < description.len() && !stem.is_empty() {
        // Keep the separator that followed the stem, if one did: `bulk-a-*`, not `bulk-a*`.
        let next = description[stem.len()..].chars().next();
        return match next {
            Some(c) if is_separator(c) => format!("{stem}{c}*"),
            _ => format!("{stem}*"),
        };
    }
    match description.rfind('-') {
        Some(at) if at > 0 => format!("{}*", &description[..=at]),
        _ => description.to_owned(),
    }
}

/// Longest description shown in full in a sample line.
const DESCRIPTION_WIDTH: usize = 60;

/// A description as one short line: a description is free text from the account, so a control character
/// (a newline, an escape sequence) must not forge lines or restyle the terminal in a refusal.
fn one_line(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(DESCRIPTION_WIDTH)
        .collect();
    if text.chars().count() > DESCRIPTION_WIDTH {
        line.push('…');
    }
    line
}

impl fmt::Display for MatchSample {
    /// Indented lines for a refusal's help: the counts, then the first jobs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = |pairs: &[(String, usize)]| {
            pairs
                .iter()
                .map(|(name, n)| format!("{name} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "by status: {}", counts(&self.by_status))?;
        write!(f, "\nby description: {}", counts(&self.by_prefix))?;
        let (prefixes, jobs) = self.other_prefixes;
        if prefixes > 0 {
            write!(
                f,
                ", and {prefixes} more {} ({})",
                noun_for(prefixes, "prefix"),
                plural(jobs, "job")
            )?;
        }
        if self.first.is_empty() {
            return Ok(());
        }
        let shown = if self.first.len() < self.total {
            format!("the first {} of {}:", self.first.len(), self.total)
        } else {
            format!("the {}:", plural(self.total, "job"))
        };
        write!(f, "\n{shown}")?;
        let id_width = self
            .first
            .iter()
            .map(|j| j.id.as_str().len())
            .max()
            .unwrap_or(0);
        for job in &self.first {
            write!(
                f,
                "\n  {:id_width$}  {:<10}  {}",
                job.id.as_str(),
                job.status_seen.to_string(),
                job.description
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), one_line),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{JobId, JobStatus};

    fn job(id: &str, status: JobStatus, description: &str) -> ResolvedJob {
        ResolvedJob {
            target: 0,
            id: JobId::parse(id).unwrap(),
            description: Some(description.into()),
            status_seen: status,
            priority_seen: 10,
            progress_seen: Default::default(),
        }
    }

    #[test]
    fn prefixes_cut_the_trailing_number_or_the_last_dash_part() {
        assert_eq!(description_prefix("bulk-a-0001"), "bulk-a-*");
        assert_eq!(description_prefix("reindex-2024-03"), "reindex-*");
        assert_eq!(description_prefix("job s-0005"), "job s-*");
        assert_eq!(description_prefix("backfill7"), "backfill*");
        assert_eq!(description_prefix("nightly-eu"), "nightly-*");
        assert_eq!(description_prefix("nightly"), "nightly");
        assert_eq!(description_prefix("2024"), "2024");
        assert_eq!(description_prefix("-x"), "-x");
    }

    #[test]
    fn a_description_cannot_forge_a_line_or_run_long() {
        let jobs = [job(
            "job-0001",
            JobStatus::Active,
            &format!("evil\n  fake-line\u{1b}[31m{}", "x".repeat(100)),
        )];
        let text = MatchSample::of(&jobs).to_string();
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.contains('…'), "{text}");
    }

    #[test]
    fn a_sample_counts_every_match_and_lists_the_first_ten() {
        let mut jobs: Vec<ResolvedJob> = (0..12)
            .map(|i| {
                job(
                    &format!("bulk-{i:04}"),
                    JobStatus::Suspended,
                    &format!("bulk-{i}"),
                )
            })
            .collect();
        jobs.extend((0..3).map(|i| job(&format!("re-{i:04}x"), JobStatus::Active, "reindex-eu")));
        let sample = MatchSample::of(&jobs);
        assert_eq!(sample.total, 15);
        assert_eq!(sample.first.len(), SAMPLE_JOBS);
        assert_eq!(
            sample.by_status,
            vec![("Suspended".to_owned(), 12), ("Active".to_owned(), 3)]
        );
        assert_eq!(
            sample.by_prefix,
            vec![("bulk-*".to_owned(), 12), ("reindex-*".to_owned(), 3)]
        );
        let text = sample.to_string();
        assert!(text.contains("the first 10 of 15:"), "{text}");
        assert!(text.contains("bulk-0009"), "{text}");
        assert!(!text.contains("bulk-0010"), "{text}");
    }

    #[test]
    fn prefixes_beyond_the_top_five_are_counted_together() {
        let jobs: Vec<ResolvedJob> = ["a-1", "a-2", "b-1", "c-1", "d-1", "e-1", "f-1", "g-1"]
            .iter()
            .enumerate()
            .map(|(i, d)| job(&format!("job-{i:04}"), JobStatus::Active, d))
            .collect();
        let sample = MatchSample::of(&jobs);
        assert_eq!(sample.by_prefix.len(), TOP_PREFIXES);
        assert_eq!(sample.by_prefix[0], ("a-*".to_owned(), 2));
        assert_eq!(sample.other_prefixes, (2, 2));
        let text = sample.to_string();
        assert!(text.contains("and 2 more prefixes (2 jobs)"), "{text}");
        assert!(text.contains("the 8 jobs:"), "{text}");
    }
}
