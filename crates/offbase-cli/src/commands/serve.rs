//! `offbase serve`: a loaded app's entity API over HTTP from PostgreSQL, until Ctrl-C.

use super::runtime;
use crate::cli::ServeArgs;
use anyhow::Context as _;
use std::process::ExitCode;

pub fn serve(arguments: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = offbase_serve::ServeConfig {
        app_id: arguments.app_id.clone(),
        token_secret: std::env::var(&arguments.token_secret_env)
            .ok()
            .filter(|secret| !secret.is_empty())
            .map(|secret| offbase_serve::TokenSecret::new(secret.as_bytes())),
        service_key: std::env::var(&arguments.service_key_env)
            .ok()
            .filter(|key| !key.is_empty()),
        frontend: arguments.frontend.clone(),
        smtp: smtp_settings(&arguments)?,
        public_url: arguments.public_url.clone(),
        files: arguments
            .files_dir
            .clone()
            .map(|dir| offbase_serve::FilesSettings {
                dir,
                public_url: arguments.files_public_url.clone(),
                max_upload_bytes: arguments.files_max_mb.saturating_mul(1024 * 1024),
                s3: None,
            }),
        ..offbase_serve::ServeConfig::new(
            &arguments.database_url,
            &arguments.pg_schema,
            &arguments.workspace,
        )
    };
    if config.token_secret.is_none() {
        crate::output::note(&format!(
            "{} is not set: sign-in tokens are signed with a random secret and end when the \
             server stops",
            arguments.token_secret_env
        ));
    }
    if config.smtp.is_none() {
        crate::output::note(
            "no --smtp-url: registration, password resets and invitations answer 501 (they send \
             mails)",
        );
    }
    let address = std::net::SocketAddr::new(arguments.host, arguments.port);
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
        if let Some(dir) = &arguments.files_dir {
            println!(
                "Uploads are kept in {} and files served at {}.",
                dir.display(),
                arguments.files_public_url.clone().unwrap_or_else(|| format!(
                    "{}/files",
                    arguments
                        .public_url
                        .as_deref()
                        .map_or_else(|| running.api_url(), |url| url
                            .trim_end_matches('/')
                            .to_owned())
                ))
            );
        }
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        running.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The SMTP settings of `--smtp-url` and `--mail-from`: both, or neither.
fn smtp_settings(arguments: &ServeArgs) -> anyhow::Result<Option<offbase_serve::SmtpSettings>> {
    let url = arguments
        .smtp_url
        .clone()
        .filter(|url| !url.trim().is_empty());
    let from = arguments
        .mail_from
        .clone()
        .filter(|from| !from.trim().is_empty());
    match (url, from) {
        (Some(url), Some(from)) => Ok(Some(offbase_serve::SmtpSettings { url, from })),
        (None, None) => Ok(None),
        (Some(_), None) => anyhow::bail!(
            "--smtp-url (OFFBASE_SERVE_SMTP_URL) needs --mail-from (OFFBASE_SERVE_MAIL_FROM): \
             the sender of the account mails, e.g. 'App <no-reply@example.com>'"
        ),
        (None, Some(_)) => anyhow::bail!(
            "--mail-from needs --smtp-url (OFFBASE_SERVE_SMTP_URL): the SMTP server the mails \
             go through"
        ),
    }
}
