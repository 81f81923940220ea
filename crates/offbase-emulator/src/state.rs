//! What the HTTP layer shares: the axum state every handler and middleware reaches (the app id
//! and key, the user-token key, how access rules are read, the store, what the account calls
//! remember, the rate limiter, the fault injector and the stats recorder), how a run builds it
//! from its config, and the [`Route`] tag a handler puts on its answer for the stats
//! middleware. The route table and the handlers both depend on this module; it depends on
//! neither.

use crate::config::EmulatorConfig;
use crate::faults::FaultInjector;
use crate::ledger::AccountLedger;
use crate::limits::RateLimiter;
use crate::session::SessionKey;
use crate::stats::{Route, StatsRecorder};
use crate::store::StoreHandle;
use axum::response::Response;
use offbase_base44::rls::{BareKeys, Options};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What every handler can reach.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) app_id: String,
    pub(crate) api_key: String,
    /// What user tokens are made and checked with.
    pub(crate) sessions: SessionKey,
    /// How access rules are read, shared with the [`crate::RunningEmulator`].
    pub(crate) rules: Arc<RuleSettings>,
    pub(crate) store: StoreHandle,
    /// The account calls' codes, tokens, passwords and outbox, shared with the
    /// [`crate::RunningEmulator`] (which reads the outbox).
    pub(crate) accounts: Arc<AccountLedger>,
    pub(crate) limiter: RateLimiter,
    pub(crate) faults: FaultInjector,
    pub(crate) stats: Arc<StatsRecorder>,
    /// File paths that answer 404.
    pub(crate) deleted_files: std::collections::BTreeSet<String>,
    /// Every file's length, when the config fixes it.
    pub(crate) file_size: Option<usize>,
}

pub(crate) type SharedState = Arc<AppState>;

impl AppState {
    /// The state of a run serving `app_id` from `store`: the config's key, rate limits and
    /// faults, counting into `stats`.
    pub(crate) fn new(
        config: &EmulatorConfig,
        app_id: String,
        store: StoreHandle,
        stats: Arc<StatsRecorder>,
        rules: Arc<RuleSettings>,
        accounts: Arc<AccountLedger>,
    ) -> Self {
        AppState {
            sessions: SessionKey::new(&config.api_key, &app_id),
            rules,
            app_id,
            api_key: config.api_key.clone(),
            store,
            accounts,
            limiter: RateLimiter::new(config.rate_limits),
            faults: FaultInjector::new(config.faults.clone()),
            stats,
            deleted_files: config.deleted_files.clone(),
            file_size: config.file_size,
        }
    }
}

/// How access rules read what the platform leaves open, changeable while the emulator runs
/// ([`crate::RunningEmulator::set_bare_keys`]).
#[derive(Debug, Default)]
pub(crate) struct RuleSettings {
    bare_keys_as_data: AtomicBool,
}

impl RuleSettings {
    pub(crate) fn options(&self) -> Options {
        Options {
            bare_keys: if self.bare_keys_as_data.load(Ordering::Relaxed) {
                BareKeys::Data
            } else {
                BareKeys::Literal
            },
        }
    }

    pub(crate) fn set_bare_keys(&self, bare_keys: BareKeys) {
        self.bare_keys_as_data
            .store(bare_keys == BareKeys::Data, Ordering::Relaxed);
    }
}

/// Marks an answer with the route that gave it, for the stats middleware, which counts
/// untagged answers as [`Route::Unmatched`].
pub(crate) fn tagged(mut response: Response, route: Route) -> Response {
    response.extensions_mut().insert(route);
    response
}
