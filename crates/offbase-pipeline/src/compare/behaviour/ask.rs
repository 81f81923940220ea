//! Asking each backend one request: the Base44 API (with the key, or as a user of the app, its
//! records read through the URL map where the load rewrote file URLs) and PostgreSQL (through
//! the translation of `offbase_sql::query`, under the access rules' role when asked as a user),
//! each answer in the canonical form of `diff data`.

use super::{Answer, project};
use crate::PipelineError;
use crate::compare::canonical::{canonical_source_record, canonical_target_row};
use offbase_base44::client::{Client, ClientError, ListQuery};
use offbase_base44::corpus::{CorpusRequest, Operation};
use offbase_base44::files::UrlRewrite;
use offbase_base44::query::{Filter, parse_filter, parse_sort};
use offbase_model::{BuiltIn, Table, TargetSchema};
use offbase_sql::RlsMode;
use offbase_sql::rls::{Requester, Session, session};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `--as anonymous`: a visitor who is not signed in.
pub const ANONYMOUS: &str = "anonymous";

/// Puts PostgreSQL's session in the shoes of `who` (an email of the User table, or
/// [`ANONYMOUS`]): the access rules' role and the user, as the app sets them in `rls`'s
/// dialect (offbase's session settings, or the JWT claims Supabase's API sets).
pub(super) async fn act_as_user(
    connection: &mut offbase_pg::PgConnection,
    pg_schema: &str,
    target: &TargetSchema,
    who: &str,
    rls: RlsMode,
) -> Result<(), PipelineError> {
    if who == ANONYMOUS {
        act(connection, session(rls, Requester::Anonymous)).await?;
        return Ok(());
    }
    let unknown = |message: &str| PipelineError::UserSession {
        user: who.to_owned(),
        message: message.to_owned(),
    };
    let table = target
        .table_for_entity("User")
        .ok_or_else(|| unknown("the plan has no User table"))?;
    let column = |field: &str| {
        table
            .column_for_field(field)
            .map(|column| column.name.as_str())
    };
    let (Some(id_column), Some(email_column)) = (
        column(BuiltIn::Id.field_name()),
        column(BuiltIn::Email.field_name()),
    ) else {
        return Err(unknown("the User table has no id or email column"));
    };
    let found = offbase_pg::query::find_user(
        &mut *connection,
        pg_schema,
        &table.name,
        (id_column, email_column, column(BuiltIn::Role.field_name())),
        who,
    )
    .await?
    .ok_or_else(|| unknown("no user with this email in the loaded User table"))?;
    let (id, email, role) = found;
    // Supabase's `sub` is the id the loaded User row holds (the Base44 id before the users
    // export's rewrite plan, the new one after), which `offbase_user_id()` takes as it is.
    act(
        connection,
        session(
            rls,
            Requester::User {
                id: &id,
                email: &email,
                role: role.as_deref(),
            },
        ),
    )
    .await?;
    Ok(())
}

async fn act(
    connection: &mut offbase_pg::PgConnection,
    session: Session,
) -> Result<(), offbase_pg::PgError> {
    offbase_pg::query::act_as(connection, &session.set_config_sql(true, false)).await
}

/// Asks an API (the old backend, or a new one that speaks the API); records are read through
/// `urls` when given.
pub(super) async fn ask_api(
    client: &Client,
    request: &CorpusRequest,
    table: &Table,
    urls: Option<&UrlRewrite>,
) -> Result<Answer, String> {
    let canonical = |mut record: Map<String, Value>| {
        if let Some(urls) = urls {
            crate::files::rewrite::rewrite_record(urls, &mut record);
        }
        canonical_record(record, table)
    };
    let refused = |error: ClientError| match error {
        ClientError::Status { status, body, .. } if (400..500).contains(&status) => {
            Ok(Answer::Refused(format!("HTTP {status}: {body}")))
        }
        ClientError::NotFound { .. } => Ok(Answer::Refused("HTTP 404".to_owned())),
        other => Err(other.to_string()),
    };
    match request.op {
        Operation::Count => match client.count(&request.entity, request.q.as_ref()).await {
            Ok(count) => Ok(Answer::Count(count)),
            Err(error) => refused(error),
        },
        Operation::Get => {
            let id = request.id.as_deref().unwrap_or_default();
            match client.get(&request.entity, id).await {
                Ok(record) => Ok(Answer::Record(record.and_then(canonical))),
                Err(error) => refused(error),
            }
        }
        Operation::List | Operation::Filter => {
            let query = ListQuery {
                q: request.q.clone(),
                sort: request.sort.clone(),
                limit: request.limit.map(|limit| limit as usize),
                skip: request.skip.map(|skip| skip as usize),
                fields: request.fields.clone(),
            };
            match client.list(&request.entity, &query).await {
                Ok(records) => Ok(Answer::Records(
                    records.into_iter().filter_map(canonical).collect(),
                )),
                Err(error) => refused(error),
            }
        }
    }
}

/// Asks PostgreSQL the translated request. A request the translation cannot express is an
/// error; one PostgreSQL refuses is a refusal (compared with the old backend's answer).
pub(super) async fn ask_postgres(
    connection: &mut offbase_pg::PgConnection,
    pg_schema: &str,
    request: &CorpusRequest,
    table: &Table,
    sql_shown: &mut Option<String>,
) -> Result<Answer, String> {
    use offbase_sql::query::{count_sql, get_sql, list_sql};
    let filter = match &request.q {
        Some(q) => parse_filter(q).map_err(|error| format!("invalid q: {error}"))?,
        None => Filter::all(),
    };
    let sort = match &request.sort {
        Some(sort) => parse_sort(sort).map_err(|error| format!("invalid sort: {error}"))?,
        None => None,
    };
    let sql = match request.op {
        Operation::Count => count_sql(pg_schema, table, &filter),
        Operation::Get => Ok(get_sql(
            pg_schema,
            table,
            request.id.as_deref().unwrap_or_default(),
        )),
        Operation::List | Operation::Filter => list_sql(
            pg_schema,
            table,
            &filter,
            sort.as_ref(),
            request.limit,
            request.skip,
        ),
    }
    .map_err(|error| format!("not translated: {error}"))?;
    *sql_shown = Some(sql.clone());
    let answer = match request.op {
        Operation::Count => offbase_pg::query::query_count(connection, &sql)
            .await
            .map(Answer::Count),
        Operation::Get => offbase_pg::query::query_rows(connection, &sql)
            .await
            .map(|rows| {
                Answer::Record(
                    rows.into_iter()
                        .next()
                        .and_then(|row| record_from_row(row, table)),
                )
            }),
        Operation::List | Operation::Filter => offbase_pg::query::query_rows(connection, &sql)
            .await
            .map(|rows| {
                Answer::Records(
                    rows.into_iter()
                        .filter_map(|row| record_from_row(row, table))
                        .map(|record| project(record, request.fields.as_deref()))
                        .collect(),
                )
            }),
    };
    Ok(answer.unwrap_or_else(|error| Answer::Refused(error.to_string())))
}

/// A record from an API, canonical (as `diff data` reads the source); `None` without an id.
fn canonical_record(record: Map<String, Value>, table: &Table) -> Option<BTreeMap<String, Value>> {
    canonical_source_record(record, table).map(|(_, canonical)| canonical)
}

/// A row (`to_jsonb`) back to its record, canonical (as `diff data` reads the target).
fn record_from_row(row: Value, table: &Table) -> Option<BTreeMap<String, Value>> {
    canonical_target_row(row, table).map(|(_, canonical)| canonical)
}
