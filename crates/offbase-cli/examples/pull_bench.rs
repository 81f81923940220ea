//! Benchmark: `offbase pull` of N records from the emulator (no rate limits) against a plain
//! sequential HTTP loop fetching the same keyset pages and writing the raw bodies, side by side
//! against the same emulator. Not a test; see docs/performance.md.
//!
//!     cargo build --release && cargo run --release -p offbase-cli --example pull_bench -- 1000000

use offbase_emulator::{EmulatorConfig, RateLimits};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const KEY: &str = "bench-key";

fn generate(folder: &Path, count: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(folder.join("base44/entities"))?;
    std::fs::create_dir_all(folder.join("data"))?;
    std::fs::write(
        folder.join("base44/entities/Task.jsonc"),
        r#"{"name": "Task", "type": "object", "properties": {
            "title": {"type": "string"}, "status": {"type": "string", "enum": ["todo", "done"]},
            "priority": {"type": "integer"}, "estimate": {"type": "number"}, "done": {"type": "boolean"},
            "due_date": {"type": "string", "format": "date"}, "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object"}}}"#,
    )?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(folder.join("data/Task.jsonl"))?);
    let start = 1_767_225_600_i64; // 2026-01-01
    for index in 0..count {
        let instant = chrono::DateTime::from_timestamp(
            start + index as i64 * 7,
            (index % 1000) as u32 * 1000,
        )
        .unwrap_or_default();
        let created = offbase_model::time::format_stored(instant);
        let record = json!({
            "id": format!("{:024x}", index as u64 * 2_654_435_761 % 0xffff_ffff_ffff),
            "created_date": created, "updated_date": created, "created_by": "owner@example.com",
            "created_by_id": "6989205392f69694df37d206", "is_sample": false,
            "title": format!("Task number {index} with a realistic title"), "status": if index % 3 == 0 { "done" } else { "todo" },
            "priority": index % 5, "estimate": index as f64 / 4.0, "done": index % 3 == 0,
            "due_date": "2026-06-01", "tags": ["a", "b"], "meta": {"n": index, "source": "bench"}
        });
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// The reference: sequential keyset requests, the raw bodies written to one file.
async fn plain_loop(api_url: &str, app_id: &str, out: &Path) -> Result<(usize, Duration), String> {
    let client = reqwest::Client::new();
    let mut file = std::fs::File::create(out).map_err(|error| error.to_string())?;
    let mut last: Option<String> = None;
    let mut records = 0;
    let started = Instant::now();
    loop {
        let mut query = vec![
            ("sort", "created_date".to_owned()),
            ("limit", "5000".to_owned()),
        ];
        if let Some(last) = &last {
            query.push(("q", json!({"created_date": {"$gt": last}}).to_string()));
        }
        let body = client
            .get(format!("{api_url}/api/apps/{app_id}/entities/Task"))
            .query(&query)
            .header("api_key", KEY)
            .send()
            .await
            .map_err(|error| error.to_string())?
            .bytes()
            .await
            .map_err(|error| error.to_string())?;
        file.write_all(&body).map_err(|error| error.to_string())?;
        let page: Vec<Value> = serde_json::from_slice(&body).map_err(|error| error.to_string())?;
        records += page.len();
        if page.len() < 5000 {
            break;
        }
        last = page
            .last()
            .and_then(|record| record["created_date"].as_str())
            .map(str::to_owned);
    }
    Ok((records, started.elapsed()))
}

fn main() -> Result<(), String> {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let binary = std::env::current_exe()
        .map_err(|error| error.to_string())?
        .parent()
        .and_then(Path::parent)
        .map(|folder| folder.join("offbase"))
        .ok_or("no binary folder")?;
    if !binary.exists() {
        return Err(format!(
            "build the CLI first: cargo build --release ({} is missing)",
            binary.display()
        ));
    }
    let scratch = tempfile::tempdir().map_err(|error| error.to_string())?;
    let app = scratch.path().join("app");
    generate(&app, count).map_err(|error| error.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|error| error.to_string())?;
    let mut config = EmulatorConfig::new(&app, KEY);
    config.rate_limits = RateLimits::Off;
    let emulator = runtime
        .block_on(offbase_emulator::start(config, ([127, 0, 0, 1], 0).into()))
        .map_err(|error| error.to_string())?;
    println!("{count} records served at {}", emulator.api_url());
    let mut best_plain = Duration::MAX;
    let mut best_pull = Duration::MAX;
    let mut peak_kib = 0;
    for round in 1..=2 {
        let (records, elapsed) = runtime.block_on(plain_loop(
            &emulator.api_url(),
            emulator.app_id(),
            &scratch.path().join("plain.json"),
        ))?;
        println!(
            "round {round}: plain loop {records} records in {:.2}s",
            elapsed.as_secs_f64()
        );
        best_plain = best_plain.min(elapsed);

        let workspace = scratch.path().join(format!("ws{round}"));
        let started = Instant::now();
        let output = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(&binary)
            .args([
                "pull",
                "--api-url",
                &emulator.api_url(),
                "--app-id",
                emulator.app_id(),
                "--concurrency",
                "1",
            ])
            .arg("--schema-from")
            .arg(&app)
            .arg("--workspace")
            .arg(&workspace)
            .env("BASE44_API_KEY", KEY)
            .output()
            .map_err(|error| error.to_string())?;
        let elapsed = started.elapsed();
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        let kib: u64 = String::from_utf8_lossy(&output.stderr)
            .lines()
            .last()
            .and_then(|line| line.trim().parse().ok())
            .unwrap_or(0);
        peak_kib = peak_kib.max(kib);
        println!(
            "round {round}: offbase pull in {:.2}s, peak memory {} MiB",
            elapsed.as_secs_f64(),
            kib / 1024
        );
        best_pull = best_pull.min(elapsed);
    }
    let rate = count as f64 / best_pull.as_secs_f64();
    println!(
        "best: plain loop {:.2}s, offbase pull {:.2}s ({rate:.0} records/s); pull / plain = {:.2}; pull peak memory {} MiB",
        best_plain.as_secs_f64(),
        best_pull.as_secs_f64(),
        best_pull.as_secs_f64() / best_plain.as_secs_f64(),
        peak_kib / 1024
    );
    runtime.block_on(emulator.shutdown());
    Ok(())
}
