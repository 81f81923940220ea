//! The platform's per-app rate limits: one sliding window per operation class (list/count,
//! get, create, update, delete), each with the free plan's allowance times a scale. A request
//! over the allowance is refused with the whole seconds until the window frees a slot.

use crate::config::RateLimits;
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The operation classes that share one allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// List, cursor list, count and trash listing.
    List,
    Get,
    /// Create and bulk create.
    Create,
    /// Update, bulk update, update-many and restore.
    Update,
    /// Delete, delete-many and permanent delete.
    Delete,
}

impl Operation {
    const ALL: [Operation; 5] = [
        Operation::List,
        Operation::Get,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
    ];

    /// The free plan's allowance: requests per window.
    fn base(self) -> (u32, Duration) {
        use offbase_base44::api::free_plan;
        let allowance = match self {
            Operation::List => free_plan::LIST,
            Operation::Get => free_plan::GET,
            Operation::Create => free_plan::CREATE,
            Operation::Update => free_plan::UPDATE,
            Operation::Delete => free_plan::DELETE,
        };
        (
            allowance.requests,
            Duration::from_secs(allowance.window_seconds),
        )
    }

    fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Operation::List => "list and count",
            Operation::Get => "get",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

#[derive(Debug)]
struct Window {
    limit: usize,
    period: Duration,
    /// When the admitted requests still inside the window arrived, oldest first.
    admitted: VecDeque<Instant>,
}

/// A refusal: the limit and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) limit: usize,
    pub(crate) period: Duration,
    pub(crate) retry_after_seconds: u64,
}

#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// `None` when limits are off.
    windows: Option<Mutex<Vec<Window>>>,
}

impl RateLimiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        let windows = match limits {
            RateLimits::Off => None,
            RateLimits::Base44 { scale } => Some(Mutex::new(
                Operation::ALL
                    .iter()
                    .map(|operation| {
                        let (base, period) = operation.base();
                        let scaled = (f64::from(base) * scale).floor();
                        // Saturating float-to-int cast; at least one request per window.
                        let limit = (scaled as usize).max(1);
                        Window {
                            limit,
                            period,
                            admitted: VecDeque::new(),
                        }
                    })
                    .collect(),
            )),
        };
        RateLimiter { windows }
    }

    /// Admits one request of `operation` now, or says how long to wait.
    pub(crate) fn admit(&self, operation: Operation) -> Result<(), Refusal> {
        let Some(windows) = &self.windows else {
            return Ok(());
        };
        let mut windows = windows.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(window) = windows.get_mut(operation.index()) else {
            return Ok(());
        };
        let now = Instant::now();
        while let Some(oldest) = window.admitted.front() {
            if now.duration_since(*oldest) >= window.period {
                window.admitted.pop_front();
            } else {
                break;
            }
        }
        if window.admitted.len() < window.limit {
            window.admitted.push_back(now);
            return Ok(());
        }
        let frees_at = window
            .admitted
            .front()
            .map_or(now, |oldest| *oldest + window.period);
        let wait = frees_at.saturating_duration_since(now);
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Err(Refusal {
            limit: window.limit,
            period: window.period,
            retry_after_seconds: seconds.max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_scaled_allowance_with_a_wait() {
        let limiter = RateLimiter::new(RateLimits::Base44 { scale: 0.05 });
        // 100 per 30 s for deletes, times 0.05: 5.
        for _ in 0..5 {
            assert!(limiter.admit(Operation::Delete).is_ok());
        }
        let refusal = limiter.admit(Operation::Delete);
        assert!(
            matches!(
                refusal,
                Err(Refusal {
                    limit: 5,
                    retry_after_seconds: 1..=30,
                    ..
                })
            ),
            "{refusal:?}"
        );
        // Other classes have their own windows.
        assert!(limiter.admit(Operation::Get).is_ok());
        let off = RateLimiter::new(RateLimits::Off);
        for _ in 0..1000 {
            assert!(off.admit(Operation::List).is_ok());
        }
    }
}
