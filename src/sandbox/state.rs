//! The state every request sees: the clock, the job store, the knobs, the authentication mode, the audit
//! log and call counts, and the request-id generator.
//!
//! Owns the locks around the store and the knobs. Shared by the job API (`router.rs`), the admin API
//! (`admin.rs`) and the in-process handle (`server.rs`); imports none of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::audit::{AuditLog, CallCounts};
use super::auth::AuthMode;
use super::clock::SimClock;
use super::error::SandboxError;
use super::knobs::KnobState;
use super::seed::Seed;
use super::store::Store;

/// State shared by every request.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clock: SimClock,
    store: Mutex<Store>,
    knobs: Mutex<KnobState>,
    pub(crate) auth: AuthMode,
    pub(crate) audit: AuditLog,
    pub(crate) calls: CallCounts,
    request_seq: AtomicU64,
    request_salt: u64,
}

impl Shared {
    pub(crate) fn new(
        clock: SimClock,
        store: Store,
        knobs: KnobState,
        auth: AuthMode,
        audit: AuditLog,
        request_salt: u64,
    ) -> Self {
        Shared {
            clock,
            store: Mutex::new(store),
            knobs: Mutex::new(knobs),
            auth,
            audit,
            calls: CallCounts::default(),
            request_seq: AtomicU64::new(1),
            request_salt,
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // Store methods validate before mutating, so a panic cannot leave half-applied state.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn knobs(&self) -> MutexGuard<'_, KnobState> {
        self.knobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn next_request_id(&self) -> String {
        request_id(&self.request_seq, self.request_salt)
    }

    pub(crate) fn add_seed(&self, seed: &Seed) -> Result<usize, SandboxError> {
        let now = self.clock.now();
        seed.load_into(&mut self.store(), now)
    }
}

/// A request id: 16 upper-case hex digits, unique per sandbox.
fn request_id(seq: &AtomicU64, salt: u64) -> String {
    let n = seq.fetch_add(1, Ordering::Relaxed);
    // SplitMix64 finaliser: ids look random but stay unique (it is a bijection).
    let mut z = n.wrapping_add(salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016X}", z ^ (z >> 31))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_hex() {
        let seq = AtomicU64::new(0);
        let a = request_id(&seq, 1);
        let b = request_id(&seq, 1);
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
