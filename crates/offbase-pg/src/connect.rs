//! Connecting to PostgreSQL. The URL may hold a password: it is parsed by sqlx and only ever
//! shown redacted.

use crate::PgError;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;

/// How to start the local server on machines set up like the project's CI.
pub const START_HINT: &str =
    "Start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`.";

/// The URL with any password replaced by `***`, for messages and reports.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(unparsable URL)".to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(position) => rest.split_at(position),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            if credentials.contains(':') {
                format!("{user}:***@{host}")
            } else {
                format!("{user}@{host}")
            }
        }
        None => authority.to_owned(),
    };
    // Query parameters may carry a password too (`?password=`): drop them.
    let tail = tail.split('?').next().unwrap_or_default();
    format!("{scheme}://{authority}{tail}")
}

/// Opens one connection.
pub async fn connect(url: &str) -> Result<PgConnection, PgError> {
    // sqlx's parse errors may quote the offending part, which may be the password: say only
    // that it failed, with the redacted URL.
    let options = PgConnectOptions::from_str(url).map_err(|_| PgError::InvalidUrl {
        message: format!("{} could not be parsed", redact_url(url)),
    })?;
    let options = options
        .application_name("offbase")
        .disable_statement_logging();
    PgConnection::connect_with(&options)
        .await
        .map_err(|error| PgError::Connect {
            url: redact_url(url),
            message: error.to_string().replace(url, &redact_url(url)),
            hint: START_HINT,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example:5432/prod"),
            "postgres://app:***@db.example:5432/prod"
        );
        assert_eq!(
            redact_url("postgres://root@127.0.0.1:5432/test"),
            "postgres://root@127.0.0.1:5432/test"
        );
        assert_eq!(
            redact_url("postgres://h/db?password=s3cret&sslmode=disable"),
            "postgres://h/db"
        );
        assert!(!redact_url("postgres://a:p@ss@h/db").contains("p@ss"));
    }
}
