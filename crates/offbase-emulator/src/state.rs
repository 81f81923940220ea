//! What the HTTP layer shares: the axum state every handler and middleware reaches (the app id
//! and key, the store, the rate limiter, the fault injector and the stats recorder), how a run
//! builds it from its config, and the [`Route`] tag a handler puts on its answer for the stats
//! middleware. The route table and the handlers both depend on this module; it depends on
//! neither.

use crate::config::EmulatorConfig;
use crate::faults::FaultInjector;
use crate::limits::RateLimiter;
use crate::stats::{Route, StatsRecorder};
use crate::store::StoreHandle;
use axum::response::Response;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) app_id: String,
    pub(crate) api_key: String,
    pub(crate) store: StoreHandle,
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
    ) -> Self {
        AppState {
            app_id,
            api_key: config.api_key.clone(),
            store,
            limiter: RateLimiter::new(config.rate_limits),
            faults: FaultInjector::new(config.faults.clone()),
            stats,
            deleted_files: config.deleted_files.clone(),
            file_size: config.file_size,
        }
    }
}

/// Marks an answer with the route that gave it, for the stats middleware, which counts
/// untagged answers as [`Route::Unmatched`].
pub(crate) fn tagged(mut response: Response, route: Route) -> Response {
    response.extensions_mut().insert(route);
    response
}
