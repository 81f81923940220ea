//! `offbase serve`: a loaded app's entity reads over HTTP from PostgreSQL, until Ctrl-C.

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
    };
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], arguments.port));
    runtime()?.block_on(async {
        let running = offbase_serve::start(config, address).await?;
        println!(
            "Serving the reads of app {} from {} (schema {}) at {}/api/apps/{}/entities/{{Entity}}. Ctrl-C stops.",
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
