//! `offbase serve`: a loaded app's entity API over HTTP from PostgreSQL, until Ctrl-C.

use super::runtime;
use crate::cli::ServeArgs;
use anyhow::Context as _;
use std::process::ExitCode;

pub fn serve(arguments: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = offbase_serve::ServeConfig {
        database_url: arguments.database_url.clone(),
        pg_schema: arguments.pg_schema.clone(),
        workspace: arguments.workspace.clone(),
        app_id: arguments.app_id.clone(),
        token_secret: std::env::var(&arguments.token_secret_env)
            .ok()
            .filter(|secret| !secret.is_empty())
            .map(|secret| offbase_serve::TokenSecret::new(secret.as_bytes())),
        service_key: std::env::var(&arguments.service_key_env)
            .ok()
            .filter(|key| !key.is_empty()),
    };
    if config.token_secret.is_none() {
        eprintln!(
            "note: {} is not set: sign-in tokens are signed with a random secret and end when \
             the server stops",
            arguments.token_secret_env
        );
    }
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], arguments.port));
    runtime()?.block_on(async {
        let running = offbase_serve::start(config, address).await?;
        println!(
            "Serving app {} from {} (schema {}) at {}/api/apps/{}/entities/{{Entity}}. Ctrl-C stops.",
            running.app_id(),
            offbase_serve::redact_url(&arguments.database_url),
            arguments.pg_schema,
            running.api_url(),
            running.app_id(),
        );
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        running.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
