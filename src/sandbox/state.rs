//! The state every request sees: the clock, the job store, the knobs, the authentication mode, the audit
//! log and call counts, and the request-id generator.
//!
//! Owns the locks around the store and the knobs. Shared by the job API (`router.rs`), the admin API
//! (`admin.rs`) and the in-process handle (`server.rs`); imports none of them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::audit::{AuditLog, CallCounts};
use super::auth::AuthMode;
use super::clock::SimClock;
use super::error::SandboxError;
use super::knobs::KnobState;
use super::seed::Seed;
use super::store::Store;
use super::sts::Session;

/// Who a static access key is, for GetCallerIdentity.
#[derive(Debug, Clone)]
pub(crate) struct Callers {
    /// The account each listed access key belongs to.
    pub(crate) accounts: BTreeMap<String, String>,
    /// The account of a key not listed.
    pub(crate) default: String,
}

/// State shared by every request.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clock: SimClock,
    store: Mutex<Store>,
    knobs: Mutex<KnobState>,
    auth: AuthMode,
    pub(crate) audit: AuditLog,
    pub(crate) calls: CallCounts,
    request_seq: AtomicU64,
    request_salt: u64,
    callers: Callers,
    /// Temporary credentials handed out by AssumeRole, accepted from then on.
    sessions: Mutex<Vec<Session>>,
}

impl Shared {
    pub(crate) fn new(
        clock: SimClock,
        store: Store,
        knobs: KnobState,
        auth: AuthMode,
        audit: AuditLog,
        request_salt: u64,
        callers: Callers,
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
            callers,
            sessions: Mutex::new(Vec::new()),
        }
    }

    /// How to authenticate the next request: the configured keys plus the sessions AssumeRole issued.
    pub(crate) fn auth_mode(&self) -> AuthMode {
        match &self.auth {
            AuthMode::RequireHeader => AuthMode::RequireHeader,
            AuthMode::Verify(keys) => {
                let mut keys = keys.clone();
                keys.extend(self.sessions().iter().map(|s| s.credentials.clone()));
                AuthMode::Verify(keys)
            }
        }
    }

    fn sessions(&self) -> MutexGuard<'_, Vec<Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers a session AssumeRole issued.
    pub(crate) fn add_session(&self, session: Session) {
        self.sessions().push(session);
    }

    /// Sessions issued so far (the serial number of the next one).
    pub(crate) fn session_count(&self) -> u64 {
        self.sessions().len() as u64
    }

    /// The account and, for a session key, the session of `access_key_id`.
    pub(crate) fn caller(&self, access_key_id: &str) -> (String, Option<Session>) {
        if let Some(session) = self
            .sessions()
            .iter()
            .find(|s| s.credentials.access_key_id == access_key_id)
        {
            return (session.account.clone(), Some(session.clone()));
        }
        let account = self
            .callers
            .accounts
            .get(access_key_id)
            .unwrap_or(&self.callers.default)
            .clone();
        (account, None)
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
