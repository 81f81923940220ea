//! Connecting to PostgreSQL. The URL may hold a password: it is parsed by sqlx and only ever
//! shown redacted.

use crate::PgError;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;

/// How to start the local server on machines set up like the project's CI.
pub const START_HINT: &str =
    "Start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`.";

/// What to do when the connection failed, by what the server answered: its SQLSTATE `code`,
/// or `None` when no server answered at all (refused, unreachable, timed out). Never mentions
/// the password itself.
pub fn connect_hint(code: Option<&str>) -> String {
    let hint = match code {
        None => {
            return format!(
                "Is it running? {START_HINT}\n  Or point --database-url / DATABASE_URL at a \
                 server you can reach."
            );
        }
        // invalid_catalog_name
        Some("3D000") => {
            "The server is up, but has no database of that name: create it (`createdb NAME`, \
             or CREATE DATABASE in psql), or name an existing one at the end of the URL."
        }
        // invalid_password
        Some("28P01") => {
            "The server is up, but refused the password for that user: check the user and \
             password in --database-url / DATABASE_URL (or PGPASSWORD, ~/.pgpass)."
        }
        // invalid_authorization_specification: no such role, or pg_hba.conf has no rule for it
        Some("28000") => {
            "The server is up, but refused that user: check that the role exists (CREATE ROLE \
             ... LOGIN) and that pg_hba.conf lets it connect from here."
        }
        // too_many_connections, cannot_connect_now (starting up or shutting down)
        Some("53300" | "57P03") => {
            "The server is up, but cannot take this connection now: try again in a moment, or \
             lower the number of clients connected to it."
        }
        Some(_) => {
            "The server answered, but refused the connection: see its message above, and check \
             --database-url / DATABASE_URL."
        }
    };
    hint.to_owned()
}

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
    PgConnection::connect_with(&options).await.map_err(|error| {
        let code = match &error {
            sqlx::Error::Database(database) => database.code().map(|code| code.into_owned()),
            _ => None,
        };
        // A server that answered is up: trying again will not change its answer, but for a
        // server that is starting or too busy.
        let retriable = matches!(code.as_deref(), None | Some("53300" | "57P03"));
        PgError::Connect {
            url: redact_url(url),
            message: error.to_string().replace(url, &redact_url(url)),
            hint: connect_hint(code.as_deref()),
            retriable,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that speaks just enough of the protocol to refuse every connection with
    /// `code` and `message`, as PostgreSQL does after the startup message.
    async fn refusing_server(code: &'static str, message: &'static str) -> String {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("bind: {error}"),
        };
        let port = listener
            .local_addr()
            .map(|address| address.port())
            .unwrap_or(0);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                loop {
                    let mut length = [0_u8; 4];
                    if stream.read_exact(&mut length).await.is_err() {
                        break;
                    }
                    let length = u32::from_be_bytes(length).saturating_sub(4) as usize;
                    let mut body = vec![0_u8; length];
                    if stream.read_exact(&mut body).await.is_err() {
                        break;
                    }
                    // An SSL or GSS encryption request: "not here", then the startup message.
                    if body.len() == 4 && body[..2] == [0x04, 0xd2] {
                        let _ = stream.write_all(b"N").await;
                        continue;
                    }
                    let mut fields = Vec::new();
                    for (kind, text) in [
                        (b'S', "FATAL"),
                        (b'V', "FATAL"),
                        (b'C', code),
                        (b'M', message),
                    ] {
                        fields.push(kind);
                        fields.extend_from_slice(text.as_bytes());
                        fields.push(0);
                    }
                    fields.push(0);
                    let mut reply = vec![b'E'];
                    reply.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
                    reply.extend_from_slice(&fields);
                    let _ = stream.write_all(&reply).await;
                    break;
                }
            }
        });
        format!("postgres://app:hunter2secret@127.0.0.1:{port}/shop")
    }

    /// Regression: every connection error said to start PostgreSQL, also when the server was
    /// up and refused the password or had no such database. The hint now fits the answer, and
    /// the password is never shown.
    #[tokio::test]
    async fn a_refused_password_was_answered_with_how_to_start_the_server() {
        for (code, message, expected) in [
            (
                "28P01",
                "password authentication failed for user \"app\"",
                "refused the password for that user",
            ),
            (
                "3D000",
                "database \"shop\" does not exist",
                "has no database of that name",
            ),
            ("28000", "role \"app\" does not exist", "refused that user"),
        ] {
            let url = refusing_server(code, message).await;
            let error = match connect(&url).await {
                Ok(_) => panic!("{code}: connected to a server that refuses everyone"),
                Err(error) => error,
            };
            let text = error.to_string();
            assert!(text.contains(message), "{code}: {text}");
            assert!(text.contains(expected), "{code}: {text}");
            assert!(!text.contains("pg_ctlcluster"), "{code}: {text}");
            assert!(!text.contains("Is it running"), "{code}: {text}");
            assert!(!text.contains("hunter2secret"), "{code}: {text}");
            assert!(
                text.contains("postgres://app:***@127.0.0.1:"),
                "{code}: {text}"
            );
            assert!(!error.is_retriable(), "{code}: {text}");
        }
    }

    #[tokio::test]
    async fn no_server_at_all_still_says_how_to_start_one() {
        // Port 1 on the loopback: nothing listens there.
        let error = match connect("postgres://app:hunter2secret@127.0.0.1:1/shop").await {
            Ok(_) => panic!("connected to port 1"),
            Err(error) => error,
        };
        let text = error.to_string();
        assert!(text.contains("Is it running?"), "{text}");
        assert!(text.contains(START_HINT), "{text}");
        assert!(!text.contains("hunter2secret"), "{text}");
        assert!(error.is_retriable());
    }

    #[test]
    fn each_answer_gets_its_hint() {
        assert!(connect_hint(None).contains("pg_ctlcluster"));
        for code in ["3D000", "28P01", "28000", "53300", "57P03", "42501"] {
            let hint = connect_hint(Some(code));
            assert!(hint.starts_with("The server"), "{code}: {hint}");
            assert!(!hint.contains("pg_ctlcluster"), "{code}: {hint}");
        }
    }

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
