//! The platform's bad days, as a client sees them over real HTTP: rate limits (429 with
//! `retry-after`), and each injected fault at a rate of 1 (5xx, 429, a truncated 200, a
//! connection dropped mid-body, latency), deterministic for a seed, after authentication and
//! never on file hosting.

mod common;

use common::{Api, config, sample, start};
use offbase_emulator::{Faults, RateLimits, Route};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn with_faults(faults: Faults) -> offbase_emulator::EmulatorConfig {
    let mut settings = config(&sample("tasks"));
    settings.faults = faults;
    settings
}

const IMAGE: &str = "/images/public/f5f842e2b59f57295f65d0d0/abc123def_logo.png";

#[tokio::test]
async fn over_the_rate_limit_the_answer_is_429_with_retry_after() {
    let mut settings = config(&sample("tasks"));
    // 5% of the free plan: 5 lists a minute, 7 gets, 5 deletes per 30 s.
    settings.rate_limits = RateLimits::Base44 { scale: 0.05 };
    let emulator = start(settings).await;
    let api = Api::new(&emulator);
    for _ in 0..5 {
        assert_eq!(api.get("Task", "", &[("limit", "1")]).await.status, 200);
    }
    // Count, cursor list and trash share the list allowance.
    for rest in ["", "/count", "/v2/list", "/trash"] {
        let answer = api.get("Task", rest, &[]).await;
        assert_eq!(answer.status, 429, "{rest}");
        let wait: u64 = answer
            .header("retry-after")
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no whole-second retry-after: {:?}", answer.headers));
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(answer.error().contains("rate limit"), "{}", answer.text);
    }
    // Other classes have their own allowance.
    let id = emulator
        .store()
        .live_ids("Task")
        .into_iter()
        .next()
        .unwrap_or_default();
    assert_eq!(api.get("Task", &format!("/{id}"), &[]).await.status, 200);
    let ids: Vec<String> = emulator
        .store()
        .live_ids("Comment")
        .into_iter()
        .take(6)
        .collect();
    let mut statuses = Vec::new();
    for id in &ids {
        statuses.push(api.delete("Comment", &format!("/{id}")).await.status);
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 429]);
    let answer = api.delete("Comment", &format!("/{}", ids[5])).await;
    let wait: u64 = answer
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=30).contains(&wait), "delete windows are 30 s: {wait}");
    // Files are not rate limited.
    let file = format!("{}{IMAGE}", emulator.api_url());
    for _ in 0..10 {
        assert_eq!(api.send(api.client.get(&file)).await.status, 200);
    }
    let stats = emulator.stats();
    assert_eq!(stats.rate_limited, 6);
    assert_eq!(stats.responses(Route::List, 429), 1);
    assert_eq!(stats.responses(Route::Delete, 200), 5);
    emulator.shutdown().await;
}

async fn statuses_with_seed(seed: u64) -> Vec<u16> {
    let emulator = start(with_faults(Faults {
        fail_rate: 1.0,
        seed,
        ..Faults::default()
    }))
    .await;
    let api = Api::new(&emulator);
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let answer = api.get("Task", "", &[]).await;
        assert!(answer.error().contains("emulated"), "{}", answer.text);
        statuses.push(answer.status);
    }
    assert_eq!(emulator.stats().injected_server_errors, 30);
    emulator.shutdown().await;
    statuses
}

#[tokio::test]
async fn server_errors_are_500_502_or_503_and_the_same_for_a_seed() {
    let first = statuses_with_seed(3).await;
    assert!(
        first.iter().all(|status| [500, 502, 503].contains(status)),
        "{first:?}"
    );
    for status in [500, 502, 503] {
        assert!(first.contains(&status), "{status} never drawn: {first:?}");
    }
    assert_eq!(statuses_with_seed(3).await, first);
    assert_ne!(statuses_with_seed(4).await, first);
}

#[tokio::test]
async fn faults_come_after_authentication_and_spare_file_hosting() {
    let emulator = start(with_faults(Faults {
        fail_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let api = Api::new(&emulator);
    let answer = api
        .send(
            api.client
                .get(api.url("Task", ""))
                .header("api_key", "wrong-key"),
        )
        .await;
    assert_eq!(answer.status, 401);
    let file = api
        .send(api.client.get(format!("{}{IMAGE}", emulator.api_url())))
        .await;
    assert_eq!(file.status, 200);
    assert_eq!(emulator.stats().injected_server_errors, 0);
    emulator.shutdown().await;

    // Asked to, the same faults hit file downloads too.
    let emulator = start(with_faults(Faults {
        fail_rate: 1.0,
        files: true,
        ..Faults::default()
    }))
    .await;
    let api = Api::new(&emulator);
    let file = api
        .send(api.client.get(format!("{}{IMAGE}", emulator.api_url())))
        .await;
    assert!((500..=503).contains(&file.status), "{}", file.status);
    assert_eq!(emulator.stats().injected_server_errors, 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn injected_throttling_is_429_with_retry_after_1() {
    let emulator = start(with_faults(Faults {
        throttle_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let api = Api::new(&emulator);
    for _ in 0..3 {
        let answer = api.get("Task", "/count", &[]).await;
        assert_eq!(answer.status, 429);
        assert_eq!(answer.header("retry-after").as_deref(), Some("1"));
        assert!(!answer.error().is_empty());
    }
    // Nothing was written.
    let answer = api
        .write(Method::POST, "Task", "", &json!({"title": "x"}))
        .await;
    assert_eq!(answer.status, 429);
    assert_eq!(emulator.store().live_ids("Task").len(), 400);
    assert_eq!(emulator.stats().injected_throttles, 4);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_truncated_answer_is_a_200_with_invalid_json() {
    let emulator = start(with_faults(Faults {
        truncate_rate: 1.0,
        seed: 9,
        ..Faults::default()
    }))
    .await;
    let api = Api::new(&emulator);
    for rest in ["", "/count", "/v2/list"] {
        let answer = api.get("Task", rest, &[]).await;
        assert_eq!(answer.status, 200);
        let length: usize = answer
            .header("content-length")
            .and_then(|value| value.parse().ok())
            .unwrap_or(usize::MAX);
        assert_eq!(length, answer.text.len(), "content-length of the cut body");
        assert!(
            serde_json::from_str::<Value>(&answer.text).is_err(),
            "{rest}: {}",
            answer.text
        );
    }
    // The work was done: a create through a truncated answer exists.
    let answer = api
        .write(Method::POST, "Task", "", &json!({"title": "cut"}))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(emulator.store().live_ids("Task").len(), 401);
    // Error answers are left whole.
    let answer = api.get("Task", "/ffffffffffffffffffffffff", &[]).await;
    assert_eq!(answer.status, 404);
    assert!(answer.error().contains("ffffffffffffffffffffffff"));
    assert_eq!(emulator.stats().truncated_bodies, 4);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_reset_drops_the_connection_mid_body() {
    let emulator = start(with_faults(Faults {
        reset_rate: 1.0,
        seed: 5,
        ..Faults::default()
    }))
    .await;
    let api = Api::new(&emulator);
    for _ in 0..3 {
        let outcome = api
            .try_send(
                api.request(Method::GET, &api.url("Task", ""))
                    .query(&[("limit", "200")]),
            )
            .await;
        match outcome {
            // The head (status 200, content-length) arrived; the body stopped short.
            Err(error) => assert!(error.starts_with("body"), "{error}"),
            Ok(answer) => panic!("a whole answer came through: {} bytes", answer.text.len()),
        }
    }
    assert_eq!(emulator.stats().reset_connections, 3);
    assert_eq!(emulator.stats().responses(Route::List, 200), 3);
    emulator.shutdown().await;

    // The same client goes on working against a healthy emulator: nothing is left hanging.
    let healthy = start(config(&sample("tasks"))).await;
    let api = Api::new(&healthy);
    assert_eq!(
        api.get("Task", "/count", &[]).await.json(),
        json!({"count": 400})
    );
    healthy.shutdown().await;
}

#[tokio::test]
async fn latency_is_added_before_answering() {
    let emulator = start(with_faults(Faults {
        latency: Duration::from_millis(250),
        ..Faults::default()
    }))
    .await;
    let api = Api::new(&emulator);
    let started = Instant::now();
    assert_eq!(api.get("Task", "/count", &[]).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    emulator.shutdown().await;
}
