//! `offbase emulate`: the Base44 entity API over HTTP, until Ctrl-C.

use super::runtime;
use crate::cli::EmulateArgs;
use anyhow::{Context as _, bail};
use std::process::ExitCode;

pub fn emulate(arguments: EmulateArgs) -> anyhow::Result<ExitCode> {
    let Ok(key) = std::env::var(&arguments.api_key_env) else {
        bail!(
            "no key for the emulator: set the environment variable {} (or name another with --api-key-env)",
            arguments.api_key_env
        );
    };
    let mut config = offbase_emulator::EmulatorConfig::new(&arguments.app_dir, key);
    config.app_id = arguments.app_id.clone();
    config.rate_limits = if arguments.no_rate_limits {
        offbase_emulator::RateLimits::Off
    } else {
        offbase_emulator::RateLimits::Base44 {
            scale: arguments.rate_limit_scale,
        }
    };
    config.faults = offbase_emulator::Faults {
        fail_rate: arguments.fail_rate,
        throttle_rate: arguments.throttle_rate,
        truncate_rate: arguments.truncate_rate,
        reset_rate: arguments.reset_rate,
        latency: std::time::Duration::from_millis(arguments.latency_ms),
        seed: arguments.seed,
        files: arguments.fault_files,
    };
    config.file_size = arguments.file_size;
    if arguments.write_rate > 0 {
        config.writer = Some(offbase_emulator::WriterConfig {
            rate_per_second: arguments.write_rate,
            duration: std::time::Duration::from_secs(arguments.write_for),
            seed: arguments.seed,
        });
    }
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], arguments.port));
    runtime()?.block_on(async {
        let running = offbase_emulator::start(config, address).await?;
        println!(
            "Serving {} as app {} at {} (key from ${}). Ctrl-C stops.",
            arguments.app_dir.display(),
            running.app_id(),
            running.api_url(),
            arguments.api_key_env
        );
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        running.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
