//! The platform's API as offbase relies on it, each fact stated once (see the reference on
//! Base44's API: list limits and rate limits per plan). The client pages by these numbers, the
//! emulator enforces them, the sync paces itself by them, and read translation caps by them.

/// The most records one list (or cursor-list) request returns: a larger `limit` is silently
/// cut to this.
pub const LIST_CAP: usize = 5000;

/// Records a list request returns when it gives no `limit`.
pub const DEFAULT_LIST_LIMIT: usize = 50;

/// An allowance of requests per window, per app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub requests: u32,
    pub window_seconds: u64,
}

/// The free plan's allowances, per operation class (paid plans get multiples of them). Over
/// an allowance the API answers 429 with `retry-after` in seconds.
pub mod free_plan {
    use super::Allowance;

    /// List, cursor list, count and trash listing share this one.
    pub const LIST: Allowance = Allowance {
        requests: 100,
        window_seconds: 60,
    };
    pub const GET: Allowance = Allowance {
        requests: 150,
        window_seconds: 60,
    };
    /// Create and bulk create.
    pub const CREATE: Allowance = Allowance {
        requests: 140,
        window_seconds: 60,
    };
    /// Update, bulk update and restore.
    pub const UPDATE: Allowance = Allowance {
        requests: 100,
        window_seconds: 60,
    };
    /// Delete and permanent delete.
    pub const DELETE: Allowance = Allowance {
        requests: 100,
        window_seconds: 30,
    };
}
