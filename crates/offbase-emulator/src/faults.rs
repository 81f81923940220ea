//! Injected faults: which ones hit a request (drawn from one seeded RNG, a fixed number of draws
//! per request, so a seed and a request order always give the same faults) and how each is
//! applied to an answer: a 5xx or a 429 instead of the work, a 200 whose body is cut short, or a
//! connection dropped mid-body (through [`crate::connection::Connection`]).

use crate::config::Faults;
use crate::connection::Connection;
use axum::body::{Body, to_bytes};
use axum::http::{StatusCode, header};
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The faults that hit one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FaultPlan {
    pub(crate) latency: Duration,
    /// Answer this 5xx instead of doing the work.
    pub(crate) server_error: Option<StatusCode>,
    /// Answer 429 instead of doing the work.
    pub(crate) throttle: bool,
    /// Cut the body at this share of its length.
    pub(crate) truncate_at: Option<f64>,
    /// Drop the connection after this share of the body.
    pub(crate) reset_at: Option<f64>,
}

#[derive(Debug)]
pub(crate) struct FaultInjector {
    faults: Faults,
    rng: Mutex<StdRng>,
}

impl FaultInjector {
    pub(crate) fn new(faults: Faults) -> Self {
        let rng = Mutex::new(StdRng::seed_from_u64(faults.seed));
        FaultInjector { faults, rng }
    }

    /// Whether file downloads are faulted too.
    pub(crate) fn faults_files(&self) -> bool {
        self.faults.files
    }

    /// Draws the faults for the next request.
    pub(crate) fn draw(&self) -> FaultPlan {
        let draws: [f64; 7] = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            std::array::from_fn(|_| rng.random::<f64>())
        };
        let [
            fail,
            which,
            throttle,
            truncate,
            truncate_at,
            reset,
            reset_at,
        ] = draws;
        let faults = &self.faults;
        let server_error = (fail < faults.fail_rate).then(|| {
            if which < 1.0 / 3.0 {
                StatusCode::INTERNAL_SERVER_ERROR
            } else if which < 2.0 / 3.0 {
                StatusCode::BAD_GATEWAY
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            }
        });
        let throttle = server_error.is_none() && throttle < faults.throttle_rate;
        let before_work = server_error.is_some() || throttle;
        let truncate_at = (!before_work && truncate < faults.truncate_rate).then_some(truncate_at);
        let reset_at = (!before_work && truncate_at.is_none() && reset < faults.reset_rate)
            .then_some(reset_at);
        FaultPlan {
            latency: faults.latency,
            server_error,
            throttle,
            truncate_at,
            reset_at,
        }
    }
}

/// The share of a body of `length` bytes that gets out: at least nothing, never all of it.
fn cut_point(length: usize, share: f64) -> usize {
    // A share in [0, 1) of a length: the float-to-int cast saturates and cannot go negative.
    let cut = (length as f64 * share) as usize;
    cut.min(length.saturating_sub(1))
}

/// The same answer with its body cut at `share` of its length (and a `content-length` that
/// matches the cut body, so the client reads a complete but invalid JSON text).
pub(crate) async fn truncate(response: Response, share: f64) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    let cut = cut_point(bytes.len(), share);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..cut)))
}

/// The same answer, with `connection` armed to fail after `share` of its body is written, and
/// whether it was armed (not for an empty body: there is nothing to cut).
pub(crate) async fn reset(
    response: Response,
    share: f64,
    connection: &Connection,
) -> (Response, bool) {
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => return (Response::from_parts(parts, Body::empty()), false),
    };
    if bytes.is_empty() {
        return (Response::from_parts(parts, Body::from(bytes)), false);
    }
    connection.cut_after(cut_point(bytes.len(), share));
    (Response::from_parts(parts, Body::from(bytes)), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let faults = Faults {
            fail_rate: 0.2,
            throttle_rate: 0.2,
            truncate_rate: 0.2,
            reset_rate: 0.2,
            latency: Duration::ZERO,
            seed: 7,
            files: false,
        };
        let first = FaultInjector::new(faults.clone());
        let second = FaultInjector::new(faults);
        let plans: Vec<FaultPlan> = (0..200).map(|_| first.draw()).collect();
        let again: Vec<FaultPlan> = (0..200).map(|_| second.draw()).collect();
        assert_eq!(plans, again);
        assert!(plans.iter().any(|plan| plan.server_error.is_some()));
        assert!(plans.iter().any(|plan| plan.throttle));
        assert!(plans.iter().any(|plan| plan.truncate_at.is_some()));
        assert!(plans.iter().any(|plan| plan.reset_at.is_some()));
        let quiet = FaultPlan {
            latency: Duration::ZERO,
            server_error: None,
            throttle: false,
            truncate_at: None,
            reset_at: None,
        };
        assert!(plans.contains(&quiet));
    }

    #[test]
    fn rates_of_one_always_hit_and_zero_never() {
        let always = FaultInjector::new(Faults {
            throttle_rate: 1.0,
            ..Faults::default()
        });
        let never = FaultInjector::new(Faults::default());
        for _ in 0..100 {
            assert!(always.draw().throttle);
            let plan = never.draw();
            assert!(!plan.throttle && plan.server_error.is_none());
            assert!(plan.truncate_at.is_none() && plan.reset_at.is_none());
        }
        assert_eq!(cut_point(10, 0.999), 9);
        assert_eq!(cut_point(10, 0.0), 0);
        assert_eq!(cut_point(1, 0.5), 0);
    }
}
