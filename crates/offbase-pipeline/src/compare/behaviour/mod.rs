//! `diff behaviour`: whether the new backend answers the app's reads as the old one does. Each
//! request of a corpus (`offbase_base44::corpus`) is asked of the old backend (the Base44 API
//! or the emulator) twice, to learn which fields change between two identical asks (an A/A
//! baseline: noise, not a difference), then of the new backend: PostgreSQL through the
//! translation of `offbase_sql::query`, or any endpoint that speaks the Base44 API. Answers are
//! put in the canonical form of `diff data`, stripped of ignored and noisy fields, and compared:
//! in order when the request sorts, as a set when it does not (by size alone when an unordered
//! page was cut by its limit: any page of that size is a right answer), numbers within a
//! relative tolerance.
//!
//! Records the load rejected (and said so in `reports/rejects/`) are left out of the old
//! backend's answers by adding `{"id": {"$nin": [...]}}` to what it is asked, so a rejected
//! record is reported once, by the load, not again as a behaviour difference.
//!
//! This file compares; `ask` asks each backend (with the key, or as a user of the app) and
//! puts its answer in canonical form; `report` writes the reports.

mod ask;
mod report;
mod writes;

pub use ask::ANONYMOUS;
use ask::{act_as_user, ask_api, ask_postgres};
pub use report::{behaviour_report, comparison_word, verdict_word, write_reports};
pub use writes::{WRITE_SAMPLE, WriteOutcome};

use crate::PipelineError;
use crate::compare::diff::rejected_ids;
use crate::progress::Reporter;
use crate::target::{MappingFile, Target};
use crate::workspace::Workspace;
use offbase_base44::client::Client;
use offbase_base44::corpus::{CorpusRequest, Operation};
use offbase_base44::files::UrlRewrite;
use offbase_base44::query::parse_sort;
use offbase_model::{BuiltIn, TargetSchema};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The new backend.
#[derive(Debug)]
pub enum NewBackend {
    /// PostgreSQL, asked through the translation of each read.
    Postgres(Target),
    /// An endpoint that speaks the Base44 entity API.
    Api(Client),
}

#[derive(Debug, Clone)]
pub struct BehaviourOptions {
    /// Fields never compared (besides the noise the A/A baseline finds).
    pub ignore_fields: Vec<String>,
    /// Relative tolerance for numbers (`|a - b| <= tolerance * max(|a|, |b|)`).
    pub float_tolerance: f64,
    /// Ask both backends as this user of the app (an email, or `anonymous`) instead of with
    /// the key: the old backend with the user's access token, PostgreSQL under the access
    /// rules' role and the user's session settings.
    pub as_user: Option<String>,
    /// With `as_user` and PostgreSQL as the new backend: also try, as that user, the update,
    /// the delete and the create of a record like each of [`WRITE_SAMPLE`] records of every
    /// entity (PostgreSQL rolled back; the old backend's rules evaluated, never written to).
    pub writes: bool,
}

impl Default for BehaviourOptions {
    fn default() -> Self {
        BehaviourOptions {
            ignore_fields: Vec::new(),
            float_tolerance: 1e-9,
            as_user: None,
            writes: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Match,
    Mismatch,
    /// The request could not be asked of one side (or translated); not a comparison.
    Error,
}

/// How two answers were compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Record by record, in order (the request sorts).
    Ordered,
    /// As sets of records (no sort, the whole answer fits the page).
    Unordered,
    /// By the number of records only (no sort and the page was full: any page is right).
    SizeOnly,
    /// A count.
    Count,
    /// One record or "not found".
    Record,
    /// Both sides refused the request.
    BothRefused,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestOutcome {
    /// 1-based position in the corpus.
    pub number: usize,
    pub label: String,
    pub request: CorpusRequest,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// What the old backend answered, in a few words (`12 records`, `count 40`).
    pub old: String,
    pub new: String,
    /// Fields that changed between two asks of the old backend, not compared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noise_fields: Vec<String>,
    /// Records the load rejected, left out of what the old backend was asked.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rejected_left_out: usize,
    /// The SQL PostgreSQL was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// A `similar` unified diff of the two normalised answers (old first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BehaviourDiff {
    pub old: String,
    pub new: String,
    /// The user both backends were asked as (`None`: the key, no access rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_user: Option<String>,
    pub requests: Vec<RequestOutcome>,
    pub matched: usize,
    pub mismatched: usize,
    pub errors: usize,
    /// The writes tried as the user (`--writes`), each allowed or denied on both sides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<WriteOutcome>,
    /// Writes allowed on one side and denied on the other, or not tried on PostgreSQL.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub writes_differing: usize,
}

impl BehaviourDiff {
    /// Matched requests over all requests, in percent (100 for an empty corpus).
    pub fn match_rate(&self) -> f64 {
        if self.requests.is_empty() {
            return 100.0;
        }
        self.matched as f64 * 100.0 / self.requests.len() as f64
    }

    pub fn clean(&self) -> bool {
        self.mismatched == 0 && self.errors == 0 && self.writes_differing == 0
    }
}

/// An answer, as either backend gives it.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Records(Vec<BTreeMap<String, Value>>),
    Count(u64),
    Record(Option<BTreeMap<String, Value>>),
    /// The backend refused the request (HTTP 4xx other than 404 on a get, or a SQL error).
    Refused(String),
}

impl Answer {
    fn summary(&self) -> String {
        match self {
            Answer::Records(records) => format!(
                "{} record{}",
                records.len(),
                if records.len() == 1 { "" } else { "s" }
            ),
            Answer::Count(count) => format!("count {count}"),
            Answer::Record(Some(_)) => "the record".to_owned(),
            Answer::Record(None) => "not found".to_owned(),
            Answer::Refused(reason) => format!("refused: {reason}"),
        }
    }
}

/// Runs every request of `corpus` against both backends and compares the answers.
pub async fn diff_behaviour(
    workspace: &Workspace,
    mappings: Option<&MappingFile>,
    old: &Client,
    new: &NewBackend,
    corpus: &[CorpusRequest],
    options: &BehaviourOptions,
    reporter: &dyn Reporter,
) -> Result<BehaviourDiff, PipelineError> {
    let mut mappings = mappings.cloned();
    // Where the load rewrote file URLs, the old backend's answers are read through the same
    // map: a URL and the URL of its copy are the same value.
    let mut urls = None;
    // The dialect of the loaded access rules, for asking as a user.
    let mut rls = offbase_sql::RlsMode::default();
    let mut connection = match new {
        NewBackend::Postgres(target) => {
            let mut connection = offbase_pg::connect(&target.database_url).await?;
            // The tables are the load's: planned with the mapping file it recorded.
            let mut given = target.clone();
            given.mappings = mappings.clone();
            let settled = given
                .settled(&mut connection)
                .await?
                .with_url_map(workspace)?;
            urls = settled.urls().cloned();
            rls = settled.rls;
            mappings = settled.mappings;
            offbase_pg::query::prepare_reads(&mut connection).await?;
            Some(connection)
        }
        NewBackend::Api(_) => None,
    };
    let plan =
        crate::plan::plan_workspace(workspace, mappings.as_ref(), &crate::progress::NoProgress)?;
    // Asked as a user: the old backend with the user's token, PostgreSQL as the rules' role.
    let as_user;
    let old = match options.as_user.as_deref() {
        None => old,
        Some(who) => {
            as_user = match who {
                ANONYMOUS => old.as_anonymous(),
                email => {
                    let token = old.test_token(email).await.map_err(|error| {
                        PipelineError::UserSession {
                            user: email.to_owned(),
                            message: format!(
                                "no access token for this user from the old backend ({error}); Base44 issues one only at sign-in"
                            ),
                        }
                    })?;
                    old.as_user(&token)?
                }
            };
            if let (Some(connection), NewBackend::Postgres(target)) = (connection.as_mut(), new) {
                act_as_user(connection, &target.pg_schema, &plan.target, who, rls).await?;
            }
            &as_user
        }
    };
    let mut rejected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let task = "requests";
    reporter.started(task, Some(corpus.len() as u64));
    let mut requests = Vec::new();
    for (index, request) in corpus.iter().enumerate() {
        if !rejected.contains_key(&request.entity) {
            let ids = rejected_ids(workspace, &request.entity)?;
            rejected.insert(request.entity.clone(), ids.into_iter().collect());
        }
        let rejected_ids = rejected.get(&request.entity).map_or(&[][..], Vec::as_slice);
        let mut backends = Backends {
            old,
            new,
            connection: connection.as_mut(),
            urls: urls.as_ref(),
        };
        let outcome = compare_request(
            index + 1,
            request,
            &plan.target,
            rejected_ids,
            &mut backends,
            options,
        )
        .await;
        requests.push(outcome);
        reporter.advanced(task, 1);
    }
    reporter.finished(task);
    let mut writes = Vec::new();
    if let (true, Some(who), Some(connection), NewBackend::Postgres(target)) = (
        options.writes,
        options.as_user.as_deref(),
        connection.as_mut(),
        new,
    ) {
        let task = "writes";
        reporter.started(task, None);
        let rejected = |entity: &str| rejected_ids(workspace, entity);
        writes = writes::compare_writes(
            connection,
            &target.pg_schema,
            &plan.app,
            &plan.target,
            plan.rules.options.rls_bare_keys,
            workspace,
            who,
            &rejected,
        )
        .await?;
        reporter.finished(task);
    }
    let count = |verdict: Verdict| {
        requests
            .iter()
            .filter(|outcome: &&RequestOutcome| outcome.verdict == verdict)
            .count()
    };
    Ok(BehaviourDiff {
        as_user: options.as_user.clone(),
        old: offbase_pg::redact_url(old.api_url()),
        new: match new {
            NewBackend::Postgres(Target {
                database_url,
                pg_schema,
                ..
            }) => format!(
                "PostgreSQL {} schema {pg_schema}",
                offbase_pg::redact_url(database_url)
            ),
            NewBackend::Api(client) => offbase_pg::redact_url(client.api_url()),
        },
        matched: count(Verdict::Match),
        mismatched: count(Verdict::Mismatch),
        errors: count(Verdict::Error),
        requests,
        writes_differing: writes.iter().filter(|write| !write.matches()).count(),
        writes,
    })
}

/// The two backends a request is asked of (and PostgreSQL's connection when it is the new one).
struct Backends<'a> {
    old: &'a Client,
    new: &'a NewBackend,
    connection: Option<&'a mut offbase_pg::PgConnection>,
    /// The URL map the old backend's records are read through.
    urls: Option<&'a UrlRewrite>,
}

async fn compare_request(
    number: usize,
    request: &CorpusRequest,
    target: &TargetSchema,
    rejected_ids: &[String],
    backends: &mut Backends<'_>,
    options: &BehaviourOptions,
) -> RequestOutcome {
    let (old, new) = (backends.old, backends.new);
    let mut outcome = RequestOutcome {
        number,
        label: request.label(),
        request: request.clone(),
        verdict: Verdict::Error,
        comparison: None,
        old: String::new(),
        new: String::new(),
        noise_fields: Vec::new(),
        rejected_left_out: 0,
        sql: None,
        diff: None,
        error: None,
    };
    let Some(table) = target.table_for_entity(&request.entity) else {
        outcome.error = Some(format!(
            "entity {} is not in the workspace's schemas",
            request.entity
        ));
        return outcome;
    };
    if let Err(message) = request.check() {
        outcome.error = Some(message);
        return outcome;
    }
    // What the old backend is asked: the request without the records the load rejected.
    let mut asked = request.clone();
    if !rejected_ids.is_empty() && request.op != Operation::Get {
        let exclusion = json!({"id": {"$nin": rejected_ids}});
        asked.q = Some(match request.q.clone() {
            Some(q) => json!({"$and": [q, exclusion]}),
            None => exclusion,
        });
        outcome.rejected_left_out = rejected_ids.len();
    }
    if request.op == Operation::Get
        && request
            .id
            .as_ref()
            .is_some_and(|id| rejected_ids.contains(id))
    {
        outcome.verdict = Verdict::Match;
        outcome.comparison = Some(Comparison::Record);
        outcome.old = "a record the load rejected".to_owned();
        outcome.new = "not loaded (in the reject file)".to_owned();
        return outcome;
    }
    let first = match ask_api(old, &asked, table, backends.urls).await {
        Ok(answer) => answer,
        Err(error) => {
            outcome.error = Some(format!("old backend: {error}"));
            return outcome;
        }
    };
    let second = match ask_api(old, &asked, table, backends.urls).await {
        Ok(answer) => answer,
        Err(error) => {
            outcome.error = Some(format!("old backend (second ask): {error}"));
            return outcome;
        }
    };
    let new_answer = match new {
        NewBackend::Api(client) => ask_api(client, request, table, None).await,
        NewBackend::Postgres(Target { pg_schema, .. }) => {
            match backends.connection.as_deref_mut() {
                Some(connection) => {
                    ask_postgres(
                        connection,
                        pg_schema.as_str(),
                        request,
                        table,
                        &mut outcome.sql,
                    )
                    .await
                }
                None => Err("no PostgreSQL connection".to_owned()),
            }
        }
    };
    let new_answer = match new_answer {
        Ok(answer) => answer,
        Err(error) => {
            outcome.old = first.summary();
            outcome.error = Some(format!("new backend: {error}"));
            return outcome;
        }
    };
    let mut ignored: BTreeSet<String> = options.ignore_fields.iter().cloned().collect();
    let (noise, stable) = baseline(&first, &second);
    outcome.noise_fields = noise.iter().cloned().collect();
    ignored.extend(noise);
    let first = strip(first, &ignored);
    let new_answer = strip(new_answer, &ignored);
    outcome.old = first.summary();
    outcome.new = new_answer.summary();
    let (comparison, same) = compare(request, &first, &new_answer, stable, options);
    outcome.comparison = Some(comparison);
    outcome.verdict = if same {
        Verdict::Match
    } else {
        Verdict::Mismatch
    };
    if !same {
        let sort_field = request
            .sort
            .as_deref()
            .and_then(|sort| parse_sort(sort).ok().flatten())
            .map(|sort| sort.field);
        outcome.diff = Some(render_diff(
            &first,
            &new_answer,
            comparison,
            sort_field.as_deref(),
        ));
    }
    outcome
}

/// `fields` projection as the platform does it: the listed fields and `id`.
fn project(record: BTreeMap<String, Value>, fields: Option<&[String]>) -> BTreeMap<String, Value> {
    match fields {
        None => record,
        Some(fields) => record
            .into_iter()
            .filter(|(name, _)| {
                name == BuiltIn::Id.field_name() || fields.iter().any(|field| field == name)
            })
            .collect(),
    }
}

/// What two asks of the old backend disagree on: the fields whose values changed (noise), and
/// whether the answer itself was stable (same records, same order).
fn baseline(first: &Answer, second: &Answer) -> (BTreeSet<String>, bool) {
    let mut noise = BTreeSet::new();
    match (first, second) {
        (Answer::Records(first), Answer::Records(second)) => {
            let ids = |records: &[BTreeMap<String, Value>]| -> Vec<Option<Value>> {
                records
                    .iter()
                    .map(|record| record.get(BuiltIn::Id.field_name()).cloned())
                    .collect()
            };
            let stable = ids(first) == ids(second);
            let by_id: BTreeMap<String, &BTreeMap<String, Value>> = second
                .iter()
                .map(|record| (record_key(record), record))
                .collect();
            for record in first {
                if let Some(other) = by_id.get(&record_key(record)) {
                    noise.extend(changed_fields(record, other));
                }
            }
            (noise, stable)
        }
        (Answer::Record(Some(first)), Answer::Record(Some(second))) => {
            noise.extend(changed_fields(first, second));
            (noise, true)
        }
        (first, second) => (noise, first == second),
    }
}

/// A record's id as text, for matching records of two answers.
fn record_key(record: &BTreeMap<String, Value>) -> String {
    record
        .get(BuiltIn::Id.field_name())
        .map(Value::to_string)
        .unwrap_or_default()
}

fn changed_fields(
    first: &BTreeMap<String, Value>,
    second: &BTreeMap<String, Value>,
) -> Vec<String> {
    first
        .keys()
        .chain(second.keys())
        .filter(|key| first.get(*key) != second.get(*key))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn strip(answer: Answer, ignored: &BTreeSet<String>) -> Answer {
    if ignored.is_empty() {
        return answer;
    }
    let strip_record = |mut record: BTreeMap<String, Value>| {
        record.retain(|field, _| !ignored.contains(field));
        record
    };
    match answer {
        Answer::Records(records) => {
            Answer::Records(records.into_iter().map(strip_record).collect())
        }
        Answer::Record(record) => Answer::Record(record.map(strip_record)),
        other => other,
    }
}

fn compare(
    request: &CorpusRequest,
    old: &Answer,
    new: &Answer,
    stable: bool,
    options: &BehaviourOptions,
) -> (Comparison, bool) {
    let tolerance = options.float_tolerance;
    match (old, new) {
        (Answer::Refused(_), Answer::Refused(_)) => (Comparison::BothRefused, true),
        (Answer::Count(old), Answer::Count(new)) => (Comparison::Count, old == new),
        (Answer::Record(old), Answer::Record(new)) => (
            Comparison::Record,
            match (old, new) {
                (Some(old), Some(new)) => records_match(old, new, tolerance),
                (None, None) => true,
                _ => false,
            },
        ),
        (Answer::Records(old), Answer::Records(new)) => {
            let page = effective_limit(request);
            if request.sort.is_some() && stable {
                (Comparison::Ordered, lists_match(old, new, tolerance))
            } else if old.len() as u64 >= page || !stable {
                (Comparison::SizeOnly, old.len() == new.len())
            } else {
                let (old, new) = (by_id(old), by_id(new));
                (Comparison::Unordered, lists_match(&old, &new, tolerance))
            }
        }
        _ => (
            match request.op {
                Operation::Count => Comparison::Count,
                Operation::Get => Comparison::Record,
                Operation::List | Operation::Filter => Comparison::Unordered,
            },
            false,
        ),
    }
}

fn effective_limit(request: &CorpusRequest) -> u64 {
    use offbase_sql::query::{DEFAULT_LIMIT, LIST_CAP};
    match request.limit {
        None => DEFAULT_LIMIT,
        Some(0) => LIST_CAP,
        Some(limit) => limit.min(LIST_CAP),
    }
}

fn by_id(records: &[BTreeMap<String, Value>]) -> Vec<BTreeMap<String, Value>> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(record_key);
    sorted
}

fn lists_match(
    old: &[BTreeMap<String, Value>],
    new: &[BTreeMap<String, Value>],
    tolerance: f64,
) -> bool {
    old.len() == new.len()
        && old
            .iter()
            .zip(new)
            .all(|(old, new)| records_match(old, new, tolerance))
}

fn records_match(
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
    tolerance: f64,
) -> bool {
    old.len() == new.len()
        && old.iter().all(|(field, value)| {
            new.get(field)
                .is_some_and(|other| values_match(value, other, tolerance))
        })
}

/// Equal, numbers within the relative tolerance.
fn values_match(old: &Value, new: &Value, tolerance: f64) -> bool {
    match (old, new) {
        (Value::Number(old), Value::Number(new)) => {
            if old == new {
                return true;
            }
            match (old.as_f64(), new.as_f64()) {
                (Some(old), Some(new)) => (old - new).abs() <= tolerance * old.abs().max(new.abs()),
                _ => false,
            }
        }
        (Value::Array(old), Value::Array(new)) => {
            old.len() == new.len()
                && old
                    .iter()
                    .zip(new)
                    .all(|(old, new)| values_match(old, new, tolerance))
        }
        (Value::Object(old), Value::Object(new)) => {
            old.len() == new.len()
                && old.iter().all(|(key, value)| {
                    new.get(key)
                        .is_some_and(|other| values_match(value, other, tolerance))
                })
        }
        _ => old == new,
    }
}

/// The most lines of one request's diff in a report.
const DIFF_LINES: usize = 60;

fn render_diff(
    old: &Answer,
    new: &Answer,
    comparison: Comparison,
    sort_field: Option<&str>,
) -> String {
    // The same records in another order: one line a record (id and sort value) says more
    // than every field of every record.
    if let (Answer::Records(old_records), Answer::Records(new_records), Some(field)) =
        (old, new, sort_field)
    {
        let keys = |records: &[BTreeMap<String, Value>]| {
            let mut keys: Vec<String> = records.iter().map(record_key).collect();
            keys.sort();
            keys
        };
        if comparison == Comparison::Ordered && keys(old_records) == keys(new_records) {
            let lines = |records: &[BTreeMap<String, Value>]| {
                let mut text = String::new();
                for record in records {
                    let id = record.get(BuiltIn::Id.field_name());
                    let mut shown = json!({ field: record.get(field).unwrap_or(&Value::Null) });
                    crate::users::fields::redact_secrets(&mut shown);
                    text.push_str(&format!(
                        "{} {field}={}\n",
                        id.and_then(Value::as_str).unwrap_or_default(),
                        shown.get(field).unwrap_or(&Value::Null)
                    ));
                }
                text
            };
            return unified(&lines(old_records), &lines(new_records));
        }
    }
    let pretty = |answer: &Answer| {
        let value = match answer {
            Answer::Records(records) => {
                let records = if comparison == Comparison::Unordered {
                    by_id(records)
                } else {
                    records.clone()
                };
                json!(records)
            }
            Answer::Count(count) => json!({ "count": count }),
            Answer::Record(record) => json!(record),
            Answer::Refused(reason) => json!({ "refused": reason }),
        };
        let mut value = value;
        crate::users::fields::redact_secrets(&mut value);
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    };
    unified(&pretty(old), &pretty(new))
}

/// A `similar` unified diff, cut to `DIFF_LINES` lines.
fn unified(old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header("old backend", "new backend")
        .to_string();
    let lines: Vec<&str> = diff.lines().collect();
    if lines.len() <= DIFF_LINES {
        return diff;
    }
    let mut cut = lines[..DIFF_LINES].join("\n");
    cut.push_str(&format!(
        "\n... {} more lines (see --json)\n",
        lines.len() - DIFF_LINES
    ));
    cut
}

#[cfg(test)]
mod tests;
