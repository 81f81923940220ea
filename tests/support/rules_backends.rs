//! The two backends the access-rules cross-check asks (`tests/access_rules_corpus.rs`): who a
//! request runs as, PostgreSQL acting as that user (each write tried and rolled back by
//! `offbase_pg::query::attempt_write`) and the emulator over HTTP (each allowed write undone
//! with the key).

use offbase_pg::query::{WriteAttempt, attempt_write};
use offbase_pipeline::plan::PlanOutput;
use offbase_sql::quote_identifier;
use offbase_tests::EMULATOR_KEY;
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::postgres::PgConnection;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Who a request runs as: an anonymous visitor or one of the generated users.
#[derive(Debug, Clone)]
pub enum Who {
    Anonymous,
    User {
        id: String,
        email: String,
        role: Option<String>,
        token: String,
    },
}

impl std::fmt::Display for Who {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Anonymous => formatter.write_str("anonymous"),
            Who::User { email, role, .. } => {
                write!(
                    formatter,
                    "{email} (role {})",
                    role.as_deref().unwrap_or("none")
                )
            }
        }
    }
}

/// What one backend did with a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied,
    /// Refused for a reason that is no rule's (a validation error): not compared.
    Inconclusive,
}

/// The names of a table's id, `created_by` and `created_by_id` columns.
pub struct Columns {
    pub table: String,
    pub id: String,
    pub created_by: Option<String>,
    pub created_by_id: Option<String>,
}

impl Columns {
    pub fn of(output: &PlanOutput, entity: &str) -> Option<Columns> {
        let table = output.target.table_for_entity(entity)?;
        let column = |field: &str| {
            table
                .column_for_field(field)
                .map(|column| column.name.clone())
        };
        Some(Columns {
            table: table.name.clone(),
            id: column("id")?,
            created_by: column("created_by"),
            created_by_id: column("created_by_id"),
        })
    }
}

/// The PostgreSQL side: the session acting as a user (the rules' role and the user's session
/// settings), each write tried and rolled back by `offbase_pg::query::attempt_write`, the
/// function `diff behaviour --writes` tries writes with.
pub struct Postgres<'c> {
    pub connection: &'c mut PgConnection,
    pub schema: String,
}

impl Postgres<'_> {
    pub async fn act_as(&mut self, who: &Who) {
        use offbase_sql::rls::{Requester, RlsMode, session};
        let requester = match who {
            Who::Anonymous => Requester::Anonymous,
            Who::User {
                id, email, role, ..
            } => Requester::User {
                id,
                email,
                role: role.as_deref(),
            },
        };
        let acting = session(RlsMode::On, requester).set_config_sql(true, false);
        if let Err(error) = offbase_pg::query::act_as(self.connection, &acting).await {
            panic!("act as {who}: {error}");
        }
    }

    /// Back to the migration user, to drop the schema.
    pub async fn reset(&mut self) {
        if let Err(error) = sqlx::raw_sql("RESET ROLE")
            .execute(&mut *self.connection)
            .await
        {
            panic!("RESET ROLE: {error}");
        }
    }

    pub async fn read(&mut self, columns: &Columns) -> Result<BTreeSet<String>, String> {
        let sql = format!(
            "SELECT {}::text FROM {}.{}",
            quote_identifier(&columns.id),
            quote_identifier(&self.schema),
            quote_identifier(&columns.table)
        );
        match sqlx::query(&sql).fetch_all(&mut *self.connection).await {
            Ok(rows) => Ok(rows
                .iter()
                .filter_map(|row| row.try_get::<String, _>(0).ok())
                .collect()),
            Err(error) => Err(error.to_string()),
        }
    }

    pub async fn write(
        &mut self,
        who: &Who,
        columns: &Columns,
        id: &str,
        attempt: WriteAttempt<'_>,
    ) -> Verdict {
        match attempt_write(
            self.connection,
            &self.schema,
            &columns.table,
            &columns.id,
            id,
            attempt,
        )
        .await
        {
            Ok(true) => Verdict::Allowed,
            Ok(false) => Verdict::Denied,
            Err(error) => panic!("{who}: {attempt:?} {}/{id}: {error}", columns.table),
        }
    }

    /// The columns a create of a copy of a record replaces: a new id, and the creator as the
    /// platform stamps a create (the user's email and id; `anonymous` and no id for a visitor).
    pub fn created_by(who: &Who, columns: &Columns, id: &str) -> Value {
        let (email, user_id) = match who {
            Who::Anonymous => (Value::String("anonymous".to_owned()), Value::Null),
            Who::User { id, email, .. } => {
                (Value::String(email.clone()), Value::String(id.clone()))
            }
        };
        let mut replaced = Map::new();
        replaced.insert(columns.id.clone(), Value::String(format!("{id}-copy")));
        if let Some(column) = &columns.created_by {
            replaced.insert(column.clone(), email);
        }
        if let Some(column) = &columns.created_by_id {
            replaced.insert(column.clone(), user_id);
        }
        Value::Object(replaced)
    }
}

/// The emulator side, over HTTP.
pub struct Emulator {
    pub http: reqwest::Client,
    pub base: String,
    /// The staged app it serves, to start it afresh.
    pub folder: PathBuf,
    pub running: Option<offbase_emulator::RunningEmulator>,
}

impl Emulator {
    pub async fn start(folder: &Path) -> Emulator {
        let running = offbase_tests::start_emulator(folder, None).await;
        Emulator {
            http: reqwest::Client::new(),
            base: format!(
                "{}/api/apps/{}/entities",
                running.api_url(),
                running.app_id()
            ),
            folder: folder.to_path_buf(),
            running: Some(running),
        }
    }

    pub fn running(&self) -> &offbase_emulator::RunningEmulator {
        self.running
            .as_ref()
            .unwrap_or_else(|| panic!("the emulator is stopped"))
    }

    /// Starts the emulator afresh from the staged app: how a deleted user comes back (the
    /// platform has no trash for users).
    pub async fn restart(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        *self = Emulator::start(&self.folder).await;
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        who: Option<&Who>,
    ) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}/{path}", self.base));
        match who {
            None => request.header("api_key", EMULATOR_KEY),
            Some(Who::Anonymous) => request,
            Some(Who::User { token, .. }) => request.bearer_auth(token),
        }
    }

    pub async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("the emulator: {error}"));
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    pub fn verdict(status: u16) -> Verdict {
        match status {
            200..=299 => Verdict::Allowed,
            403 | 404 => Verdict::Denied,
            _ => Verdict::Inconclusive,
        }
    }

    pub async fn read(&self, who: &Who, entity: &str) -> Result<BTreeSet<String>, String> {
        let request = self
            .request(reqwest::Method::GET, entity, Some(who))
            .query(&[("limit", "5000")]);
        match Self::send(request).await {
            (200, Value::Array(records)) => Ok(records
                .iter()
                .filter_map(|record| record.get("id").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()),
            (status, body) => Err(format!("HTTP {status}: {body}")),
        }
    }

    pub async fn update(&self, who: &Who, entity: &str, id: &str) -> Verdict {
        let request = self
            .request(reqwest::Method::PUT, &format!("{entity}/{id}"), Some(who))
            .header("content-type", "application/json")
            .body("{}");
        Self::verdict(Self::send(request).await.0)
    }

    /// A delete, undone (restored from the trash, or a user by a fresh start) when it went
    /// through.
    pub async fn delete(&mut self, who: &Who, entity: &str, id: &str) -> Verdict {
        let path = format!("{entity}/{id}");
        let request = self.request(reqwest::Method::DELETE, &path, Some(who));
        let verdict = Self::verdict(Self::send(request).await.0);
        if verdict == Verdict::Allowed && entity == "User" {
            self.restart().await;
        } else if verdict == Verdict::Allowed {
            let restore = self.request(reqwest::Method::PUT, &format!("{path}/restore"), None);
            let (status, body) = Self::send(restore).await;
            assert_eq!(status, 200, "restore {path}: {body}");
        }
        verdict
    }

    /// The create of a record with `record`'s fields, erased again when it went through.
    pub async fn create_like(
        &self,
        who: &Who,
        entity: &str,
        record: &Map<String, Value>,
    ) -> Verdict {
        let body: Map<String, Value> = record
            .iter()
            .filter(|(name, _)| {
                !matches!(
                    name.as_str(),
                    "id" | "created_date" | "updated_date" | "created_by" | "created_by_id"
                )
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let request = self
            .request(reqwest::Method::POST, entity, Some(who))
            .header("content-type", "application/json")
            .body(Value::Object(body).to_string());
        let (status, created) = Self::send(request).await;
        let verdict = Self::verdict(status);
        if verdict == Verdict::Allowed {
            let id = created
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut erase = vec![format!("{entity}/{id}")];
            if entity != "User" {
                erase.push(format!("{entity}/{id}/permanent"));
            }
            for path in erase {
                let method = reqwest::Method::DELETE;
                let (status, body) = Self::send(self.request(method, &path, None)).await;
                assert_eq!(status, 200, "erase {path}: {body}");
            }
        }
        verdict
    }
}
