//! The request budget: a ceiling on the request rate shared by every task of a client (each
//! request waits for its slot), which a `retry-after` answer pushes back for everyone.

use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A ceiling on the request rate, shared by every task of a client: each request waits for its
/// slot, so concurrent entities together stay inside the limit.
#[derive(Debug)]
pub(super) struct RequestBudget {
    interval: Option<Duration>,
    next_slot: Mutex<Instant>,
}

impl RequestBudget {
    pub(super) fn new(requests_per_minute: Option<u32>) -> Self {
        let interval = requests_per_minute
            .filter(|limit| *limit > 0)
            .map(|limit| Duration::from_secs_f64(60.0 / f64::from(limit)));
        RequestBudget {
            interval,
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this request's slot; returns how long that was from now (before waiting).
    pub(super) async fn slot(&self) -> Duration {
        let Some(interval) = self.interval else {
            return Duration::ZERO;
        };
        let wait_until = {
            let mut next_slot = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = (*next_slot).max(now);
            *next_slot = slot + interval;
            slot
        };
        wait_until.saturating_duration_since(Instant::now())
    }

    /// Pushes every later request back: the server said to wait.
    pub(super) async fn hold_until(&self, until: Instant) {
        let mut next_slot = self.next_slot.lock().await;
        if *next_slot < until {
            *next_slot = until;
        }
    }
}
