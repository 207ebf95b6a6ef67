//! Small wording helpers shared by every command's human output: counted nouns (`1 job`, `3 jobs`) and
//! informational stderr lines that `-q` silences.
//!
//! Owns neither the messages themselves nor where errors go (errors always print, at the edge).

use std::sync::atomic::{AtomicBool, Ordering};

/// `count` and the noun, singular for exactly one: `plural(1, "job")` is `1 job`, `plural(3, "entry")`
/// is `3 entries`.
pub fn plural(count: usize, noun: &str) -> String {
    format!("{count} {}", noun_for(count, noun))
}

/// The noun alone, in the form `count` takes: `noun_for(2, "attempt")` is `attempts`.
pub fn noun_for(count: usize, noun: &str) -> String {
    if count == 1 {
        return noun.to_owned();
    }
    match noun.strip_suffix('y') {
        // entry -> entries, but day -> days.
        Some(stem) if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{stem}ies"),
        _ if noun.ends_with(['s', 'x']) || noun.ends_with("sh") || noun.ends_with("ch") => {
            format!("{noun}es")
        }
        _ => format!("{noun}s"),
    }
}

/// Set once from `-q`: informational lines stay off stderr.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Records `-q` for [`note`] (called once, when logging is set up).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `-q` was given.
pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A line of information on stderr (the overview, where the journal and reports went): silent with `-q`,
/// which keeps stderr for errors only, and written through the console so a closed stderr never panics.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::text::is_quiet() {
            $crate::console::note(format_args!("{}\n", format_args!($($arg)*)));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_the_rest_plural() {
        assert_eq!(plural(0, "job"), "0 jobs");
        assert_eq!(plural(1, "job"), "1 job");
        assert_eq!(plural(2, "job"), "2 jobs");
        assert_eq!(plural(1, "entry"), "1 entry");
        assert_eq!(plural(3, "entry"), "3 entries");
        assert_eq!(plural(2, "day"), "2 days");
        assert_eq!(plural(2, "status"), "2 statuses");
        assert_eq!(plural(2, "prefix"), "2 prefixes");
        assert_eq!(noun_for(2, "attempt"), "attempts");
        assert_eq!(noun_for(1, "attempt"), "attempt");
    }
}
