//! Behaviour corpus from a HAR file: the network log a browser's developer tools export
//! ("Save all as HAR") while someone uses a live Base44 app. Owns recognising the entity reads
//! in that log and turning each into a [`CorpusRequest`] ([`corpus_from_har`]), and saying why
//! every other entry was left out ([`HarSkip`], [`SkipReason`]). Pure: takes the HAR text, no
//! I/O.
//!
//! What becomes a request: a `GET` on `/api/apps/{app_id}/entities/{Entity}` (any host, so both
//! `app.base44.com` and `base44.app`, and any path prefix before `/api`) answered with a 2xx
//! status:
//!
//! | path after the entity | request |
//! |---|---|
//! | (none) | `list`, or `filter` when there is a `q` or an equality parameter |
//! | `/count` | `count` |
//! | `/{id}` | `get` (query parameters ignored, as the platform does) |
//!
//! Everything else is skipped with a reason: writes, `v2/list` (its cursor belongs to one
//! session and cannot be replayed), `trash`, `User/me` (its answer depends on who asks), other
//! calls, non-2xx answers, and repeats of a request already taken.
//!
//! Parameters follow the platform (and `offbase-emulator`'s `listing` module): the list takes
//! `q sort limit skip fields`, the count only `q`; any other parameter is an equality filter
//! whose text also matches a number or boolean it reads as (`?priority=2` becomes
//! `{"priority":{"$in":["2",2]}}`), folded into `q` with `$and` when `q` is present. A
//! repeated defined parameter: the last one wins.
//!
//! Secrets: headers, cookies and bodies are never read, and query parameters that carry a
//! credential (`api_key`, `access_token`, ...) are dropped, so the output holds no key.
//!
//! One file: reading a capture and turning its entries into corpus requests are one pass; the
//! second half is unit tests over capture shapes.

use crate::corpus::{CorpusRequest, Operation};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The requests found in a HAR file and the entries left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HarExtract {
    /// The replayable entity reads, in file order, each named `har #N: GET ...`.
    pub requests: Vec<CorpusRequest>,
    /// Every other entry, in file order, with why it was left out.
    pub skipped: Vec<HarSkip>,
}

/// One entry of the HAR file that gives no request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarSkip {
    /// The entry's number in `log.entries`, from 1 (the `N` of the request names `har #N`).
    pub entry: usize,
    /// Method and URL path, without host and query string (the query may hold a key):
    /// `GET /api/apps/{app_id}/entities/Task/v2/list`. Empty when the entry has no URL.
    pub request: String,
    /// Why the entry gives no request.
    pub reason: SkipReason,
}

/// Why a HAR entry gives no corpus request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The entry lacks what every HAR request has (`request.method`, `request.url`), or its
    /// URL path is not UTF-8 text once percent-decoded.
    Malformed(String),
    /// The URL is not `/api/apps/{app_id}/entities/{Entity}...` (assets, auth, functions...).
    NotEntityCall,
    /// `POST`, `PUT`, `PATCH` or `DELETE`: replaying writes would change the data compared.
    Write(String),
    /// Another method that reads nothing (`OPTIONS` preflights, `HEAD`).
    NotRead(String),
    /// `GET {Entity}/v2/list`: the cursor only works in the session that made it.
    CursorList,
    /// `GET {Entity}/trash`: the corpus has no operation for deleted records.
    Trash,
    /// `GET User/me`: the answer is whoever is signed in, not a stored record.
    SignedInUser,
    /// An entity path that is none of the reads above (`{Entity}/{id}/restore`, ...).
    OtherEntityPath,
    /// The answer's status was not 2xx (0 when the browser got no answer).
    Status(i64),
    /// `q` is not JSON.
    UnparsableQ(String),
    /// A parameter the platform would refuse (`limit=abc`) or text that is not UTF-8.
    BadParameter(String),
    /// The request fails [`CorpusRequest::check`].
    Invalid(String),
    /// The same logical request as the earlier entry `first` (which was kept).
    Duplicate {
        /// The entry number of the request kept.
        first: usize,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Malformed(message) => write!(formatter, "not a HAR request: {message}"),
            SkipReason::NotEntityCall => formatter.write_str("not an entity call"),
            SkipReason::Write(method) => write!(formatter, "writes are not replayed ({method})"),
            SkipReason::NotRead(method) => {
                write!(formatter, "only GET requests are replayed ({method})")
            }
            SkipReason::CursorList => {
                formatter.write_str("cursor paging (v2/list) is not replayed")
            }
            SkipReason::Trash => formatter.write_str("the trash is not replayed"),
            SkipReason::SignedInUser => {
                formatter.write_str("the signed-in user (User/me) is not replayed")
            }
            SkipReason::OtherEntityPath => {
                formatter.write_str("not a list, filter, count or get of an entity")
            }
            SkipReason::Status(0) => formatter.write_str("no response (status 0)"),
            SkipReason::Status(status) => write!(formatter, "response status {status}, not 2xx"),
            SkipReason::UnparsableQ(message) => write!(formatter, "unparsable q: {message}"),
            SkipReason::BadParameter(message) => write!(formatter, "bad parameter: {message}"),
            SkipReason::Invalid(message) => write!(formatter, "not a valid request: {message}"),
            SkipReason::Duplicate { first } => write!(formatter, "duplicate of har #{first}"),
        }
    }
}

impl SkipReason {
    /// The reason without the details that differ from entry to entry, for counting.
    pub fn summary(&self) -> String {
        match self {
            SkipReason::Malformed(_) => "not a HAR request".to_owned(),
            SkipReason::UnparsableQ(_) => "unparsable q".to_owned(),
            SkipReason::BadParameter(_) => "bad parameter".to_owned(),
            SkipReason::Invalid(_) => "not a valid request".to_owned(),
            SkipReason::Duplicate { .. } => "duplicate".to_owned(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for HarSkip {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.request.is_empty() {
            write!(formatter, "har #{}: {}", self.entry, self.reason)
        } else {
            write!(
                formatter,
                "har #{}: {}: {}",
                self.entry, self.request, self.reason
            )
        }
    }
}

impl HarExtract {
    /// How many entries were skipped for each [`SkipReason::summary`].
    pub fn skip_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for skip in &self.skipped {
            *counts.entry(skip.reason.summary()).or_insert(0) += 1;
        }
        counts
    }

    /// How many entries repeated a request already taken.
    pub fn duplicates(&self) -> usize {
        self.skipped
            .iter()
            .filter(|skip| matches!(skip.reason, SkipReason::Duplicate { .. }))
            .count()
    }
}

/// Why a file is not a HAR file.
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error("not a HAR: not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error(
        "not a HAR: no log.entries (a HAR file is {{\"log\": {{\"entries\": [...]}}}}, as \"Save all as HAR\" in the browser's Network tab writes it)"
    )]
    NoEntries,
    #[error("not a HAR: log.entries is not a list")]
    EntriesNotList,
}

/// The corpus requests of a HAR file (its text), and the entries left out with their reasons.
pub fn corpus_from_har(text: &str) -> Result<HarExtract, HarError> {
    // Editors on Windows save JSON with a byte-order mark, which serde_json refuses.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let har: Value = serde_json::from_str(text).map_err(HarError::NotJson)?;
    let entries = har
        .get("log")
        .and_then(|log| log.get("entries"))
        .ok_or(HarError::NoEntries)?
        .as_array()
        .ok_or(HarError::EntriesNotList)?;

    let mut extract = HarExtract::default();
    // The requests taken so far without their names, with their entry numbers: a page that
    // re-renders asks the same thing again, and one copy is enough to compare behaviour.
    let mut taken: Vec<(CorpusRequest, usize)> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let number = index + 1;
        match read_entry(number, entry) {
            Ok(request) => {
                let nameless = CorpusRequest {
                    name: None,
                    ..request.clone()
                };
                match taken.iter().find(|(kept, _)| *kept == nameless) {
                    Some((_, first)) => extract.skipped.push(HarSkip {
                        entry: number,
                        request: format!("GET {}", split_url(url_of(entry)).path),
                        reason: SkipReason::Duplicate { first: *first },
                    }),
                    None => {
                        taken.push((nameless, number));
                        extract.requests.push(request);
                    }
                }
            }
            Err(skip) => extract.skipped.push(skip),
        }
    }
    Ok(extract)
}

fn url_of(entry: &Value) -> &str {
    entry
        .get("request")
        .and_then(|request| request.get("url"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// One entry: its request, or why there is none.
fn read_entry(number: usize, entry: &Value) -> Result<CorpusRequest, HarSkip> {
    let request = entry.get("request");
    let method = request
        .and_then(|request| request.get("method"))
        .and_then(Value::as_str);
    let url = request
        .and_then(|request| request.get("url"))
        .and_then(Value::as_str);
    let (Some(method), Some(url)) = (method, url) else {
        return Err(HarSkip {
            entry: number,
            request: String::new(),
            reason: SkipReason::Malformed("no request.method or request.url".to_owned()),
        });
    };
    let method = method.to_ascii_uppercase();
    let url = split_url(url);
    let skip = |reason: SkipReason| HarSkip {
        entry: number,
        request: format!("{method} {}", url.path),
        reason,
    };

    let path = match entity_path(url.path) {
        None => return Err(skip(SkipReason::NotEntityCall)),
        Some(Err(message)) => return Err(skip(SkipReason::Malformed(message))),
        Some(Ok(path)) => path,
    };
    match method.as_str() {
        "GET" => {}
        "POST" | "PUT" | "PATCH" | "DELETE" => return Err(skip(SkipReason::Write(method.clone()))),
        _ => return Err(skip(SkipReason::NotRead(method.clone()))),
    }
    match &path.target {
        Target::CursorList => return Err(skip(SkipReason::CursorList)),
        Target::Trash => return Err(skip(SkipReason::Trash)),
        Target::Other => return Err(skip(SkipReason::OtherEntityPath)),
        Target::Record(id) if path.entity == "User" && id == "me" => {
            return Err(skip(SkipReason::SignedInUser));
        }
        Target::Collection | Target::Count | Target::Record(_) => {}
    }
    let status = entry
        .get("response")
        .and_then(|response| response.get("status"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if !(200..300).contains(&status) {
        return Err(skip(SkipReason::Status(status)));
    }

    let har_query = request.and_then(|request| request.get("queryString"));
    let pairs = query_pairs(url.query, har_query).map_err(&skip)?;
    let request = build_request(number, path, &pairs).map_err(&skip)?;
    request
        .check()
        .map_err(|message| skip(SkipReason::Invalid(message)))?;
    Ok(request)
}

/// A URL cut into the parts this module looks at.
struct SplitUrl<'text> {
    /// From the first `/` after the host; the whole text when there is no scheme.
    path: &'text str,
    /// The raw (percent-encoded) query string, without `?`.
    query: Option<&'text str>,
}

fn split_url(url: &str) -> SplitUrl<'_> {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let (before_query, query) = match without_fragment.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (without_fragment, None),
    };
    let path = match before_query.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |slash| &rest[slash..]),
        None => before_query,
    };
    SplitUrl { path, query }
}

/// What an entity URL addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// `{Entity}`: list or filter.
    Collection,
    /// `{Entity}/count`.
    Count,
    /// `{Entity}/{id}`.
    Record(String),
    /// `{Entity}/v2/list`.
    CursorList,
    /// `{Entity}/trash`.
    Trash,
    /// Any longer path.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct EntityPath {
    entity: String,
    target: Target,
}

/// The entity and target of a path holding `/api/apps/{app_id}/entities/{Entity}`; `None` for
/// any other path, an error when a segment is not UTF-8 once decoded.
fn entity_path(path: &str) -> Option<Result<EntityPath, String>> {
    let segments: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let start = segments
        .windows(5)
        .position(|window| matches!(window, ["api", "apps", _, "entities", _]))?;
    let decode = |segment: &str| {
        percent_decode(segment, false)
            .ok_or_else(|| "the URL path is not UTF-8 text once percent-decoded".to_owned())
    };
    let parse = || -> Result<EntityPath, String> {
        let entity = decode(segments.get(start + 4).copied().unwrap_or_default())?;
        let rest: Vec<String> = segments
            .get(start + 5..)
            .unwrap_or_default()
            .iter()
            .map(|segment| decode(segment))
            .collect::<Result<_, _>>()?;
        let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
        let target = match rest.as_slice() {
            [] => Target::Collection,
            ["count"] => Target::Count,
            ["trash"] => Target::Trash,
            ["v2", "list"] => Target::CursorList,
            [id] => Target::Record((*id).to_owned()),
            _ => Target::Other,
        };
        Ok(EntityPath { entity, target })
    };
    Some(parse())
}

/// The decoded query parameters, in request order, without credentials.
///
/// The URL's own query string is read first: every browser keeps it percent-encoded, while
/// `queryString` is not consistent between exporters (Chrome copies the raw encoded text,
/// Firefox decodes it), so decoding it once more could turn a `+` or `%` of a decoded value into
/// something else. `queryString` is only used when the URL has no query part (some tools trim
/// URLs); its values are then read as Chrome writes them, encoded.
fn query_pairs(
    url_query: Option<&str>,
    har_query: Option<&Value>,
) -> Result<Vec<(String, String)>, SkipReason> {
    let mut raw: Vec<(&str, &str)> = Vec::new();
    match url_query.filter(|query| !query.is_empty()) {
        Some(query) => {
            for piece in query.split('&').filter(|piece| !piece.is_empty()) {
                raw.push(piece.split_once('=').unwrap_or((piece, "")));
            }
        }
        None => {
            for parameter in har_query.and_then(Value::as_array).into_iter().flatten() {
                let text = |key: &str| parameter.get(key).and_then(Value::as_str);
                if let Some(name) = text("name") {
                    raw.push((name, text("value").unwrap_or_default()));
                }
            }
        }
    }
    let mut pairs = Vec::new();
    for (name, value) in raw {
        let Some(name) = percent_decode(name, true) else {
            return Err(SkipReason::BadParameter(
                "a parameter name is not UTF-8 text once percent-decoded".to_owned(),
            ));
        };
        // An empty name comes from a stray `&` or `=`; a credential must not reach the output.
        if name.is_empty() || is_credential(&name) {
            continue;
        }
        let Some(value) = percent_decode(value, true) else {
            return Err(SkipReason::BadParameter(format!(
                "the value of `{name}` is not UTF-8 text once percent-decoded"
            )));
        };
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// Whether a query parameter carries a key or token rather than a filter.
fn is_credential(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|character| *character != '_' && *character != '-')
        .flat_map(char::to_lowercase)
        .collect();
    matches!(folded.as_str(), "key" | "auth" | "authorization")
        || ["apikey", "token", "secret", "password"]
            .iter()
            .any(|word| folded.ends_with(word))
}

/// Percent-decoding of URL text; `+` is a space in a query string (`plus_is_space`). A `%` not
/// followed by two hex digits stays as it is, as browsers read it. `None` when the bytes are not
/// UTF-8.
fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escaped = (byte == b'%')
            .then(|| {
                let high = bytes.get(index + 1).and_then(|digit| hex_value(*digit))?;
                let low = bytes.get(index + 2).and_then(|digit| hex_value(*digit))?;
                Some(high * 16 + low)
            })
            .flatten();
        match escaped {
            Some(value) => {
                decoded.push(value);
                index += 3;
            }
            None => {
                decoded.push(if plus_is_space && byte == b'+' {
                    b' '
                } else {
                    byte
                });
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The request an entity `GET` makes, named after the entry.
fn build_request(
    number: usize,
    path: EntityPath,
    pairs: &[(String, String)],
) -> Result<CorpusRequest, SkipReason> {
    let EntityPath { entity, target } = path;
    let (mut request, shown) = match target {
        Target::Record(id) => {
            // The platform answers a get with the record whatever the query says: a stray
            // parameter changes nothing there, so none is kept.
            let shown = format!("{entity}/{id}");
            let mut request = CorpusRequest::new(entity, Operation::Get);
            request.id = Some(id);
            return Ok(named(request, number, &shown, &[]));
        }
        Target::Count => (
            CorpusRequest::new(entity.clone(), Operation::Count),
            format!("{entity}/count"),
        ),
        // `read_entry` has already skipped the other targets: what is left is the collection.
        Target::Collection | Target::CursorList | Target::Trash | Target::Other => (
            CorpusRequest::new(entity.clone(), Operation::List),
            entity.clone(),
        ),
    };
    let count = request.op == Operation::Count;

    let mut q_text = None;
    let mut equals: Vec<(&str, &str)> = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "q" => q_text = Some(value.as_str()),
            "sort" if !count => {
                request.sort = Some(value.clone()).filter(|sort| !sort.trim().is_empty());
            }
            "limit" if !count => request.limit = Some(whole_number("limit", value)?),
            "skip" if !count => request.skip = Some(whole_number("skip", value)?),
            "fields" if !count => {
                let fields: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|field| !field.is_empty())
                    .map(str::to_owned)
                    .collect();
                request.fields = (!fields.is_empty()).then_some(fields);
            }
            _ => equals.push((name, value)),
        }
    }

    let q = match q_text.filter(|text| !text.trim().is_empty()) {
        Some(text) => Some(
            serde_json::from_str::<Value>(text)
                .map_err(|error| SkipReason::UnparsableQ(error.to_string()))?,
        ),
        None => None,
    };
    request.q = fold_equals(q, &equals);
    if request.op == Operation::List && request.q.is_some() {
        request.op = Operation::Filter;
    }
    Ok(named(request, number, &shown, pairs))
}

fn named(
    mut request: CorpusRequest,
    number: usize,
    shown: &str,
    pairs: &[(String, String)],
) -> CorpusRequest {
    let query: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    request.name = Some(format!("har #{number}: GET {shown}{query}"));
    request
}

/// `limit` and `skip`: what the platform accepts, a whole number of 0 or more.
fn whole_number(name: &str, value: &str) -> Result<u64, SkipReason> {
    value.trim().parse().map_err(|_| {
        SkipReason::BadParameter(format!(
            "`{name}` must be a whole number of 0 or more, found `{value}`"
        ))
    })
}

/// `q` with the equality parameters added: `{"field": {"$in": [text, parsed]}}` each, one
/// object when there is no `q` and no name repeats, else all under `$and` (after `q`).
fn fold_equals(q: Option<Value>, equals: &[(&str, &str)]) -> Option<Value> {
    if equals.is_empty() {
        return q;
    }
    let clauses: Vec<(String, Value)> = equals
        .iter()
        .map(|(field, text)| ((*field).to_owned(), equality(text)))
        .collect();
    let repeated = clauses
        .iter()
        .enumerate()
        .any(|(index, (field, _))| clauses[..index].iter().any(|(seen, _)| seen == field));
    if q.is_none() && !repeated {
        return Some(Value::Object(clauses.into_iter().collect()));
    }
    let mut all: Vec<Value> = q.into_iter().collect();
    for (field, condition) in clauses {
        let mut clause = Map::new();
        clause.insert(field, condition);
        all.push(Value::Object(clause));
    }
    let mut root = Map::new();
    root.insert("$and".to_owned(), Value::Array(all));
    Some(Value::Object(root))
}

/// The condition an equality parameter sets: its text, or a number or boolean it reads as.
fn equality(text: &str) -> Value {
    let mut candidates = vec![Value::String(text.to_owned())];
    if let Ok(parsed @ (Value::Number(_) | Value::Bool(_))) = serde_json::from_str(text) {
        candidates.push(parsed);
    }
    let mut condition = Map::new();
    condition.insert("$in".to_owned(), Value::Array(candidates));
    Value::Object(condition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::write_corpus;
    use serde_json::json;

    const APP: &str = "0dad9f07cd1e58f3fd183368";

    /// A HAR holding one entry per `(method, url, status)`.
    fn har(entries: &[(&str, &str, i64)]) -> String {
        let entries: Vec<Value> = entries
            .iter()
            .map(|(method, url, status)| {
                json!({
                    "request": {"method": method, "url": url, "headers": [], "queryString": []},
                    "response": {"status": status, "content": {"text": "[]", "mimeType": "application/json"}}
                })
            })
            .collect();
        json!({"log": {"version": "1.2", "entries": entries}}).to_string()
    }

    fn extract(entries: &[(&str, &str, i64)]) -> HarExtract {
        corpus_from_har(&har(entries)).unwrap_or_else(|error| panic!("{error}"))
    }

    fn entity_url(host: &str, rest: &str) -> String {
        format!("https://{host}/api/apps/{APP}/entities/{rest}")
    }

    fn reasons(extract: &HarExtract) -> Vec<String> {
        extract
            .skipped
            .iter()
            .map(|skip| skip.to_string())
            .collect()
    }

    #[test]
    fn both_url_shapes_give_list_filter_count_and_get() {
        let list = entity_url("app.base44.com", "Task?sort=-created_date&limit=50");
        let filter = entity_url(
            "base44.app",
            "Task?q=%7B%22status%22%3A%22open%22%7D&skip=10",
        );
        let count = entity_url("base44.app", "Task/count?q=%7B%22done%22:true%7D");
        let get = entity_url("app.base44.com", "Task/68c6d92bc3e5e79221d2ebe8");
        // Any host and any prefix before `/api`: a proxy or a custom domain.
        let proxied = format!("http://localhost:8044/base44/api/apps/{APP}/entities/Project/");
        let result = extract(&[
            ("GET", &list, 200),
            ("get", &filter, 200),
            ("GET", &count, 200),
            ("GET", &get, 200),
            ("GET", &proxied, 200),
        ]);
        assert_eq!(reasons(&result), Vec::<String>::new());
        assert_eq!(
            write_corpus(&result.requests),
            concat!(
                r#"{"name":"har #1: GET Task?sort=-created_date&limit=50","entity":"Task","op":"list","sort":"-created_date","limit":50}"#,
                "\n",
                r#"{"name":"har #2: GET Task?q={\"status\":\"open\"}&skip=10","entity":"Task","op":"filter","q":{"status":"open"},"skip":10}"#,
                "\n",
                r#"{"name":"har #3: GET Task/count?q={\"done\":true}","entity":"Task","op":"count","q":{"done":true}}"#,
                "\n",
                r#"{"name":"har #4: GET Task/68c6d92bc3e5e79221d2ebe8","entity":"Task","op":"get","id":"68c6d92bc3e5e79221d2ebe8"}"#,
                "\n",
                r#"{"name":"har #5: GET Project","entity":"Project","op":"list"}"#,
                "\n",
            )
        );
    }

    #[test]
    fn percent_decoding_reads_escapes_plus_and_stray_percent_signs() {
        assert_eq!(
            percent_decode("%7B%22a%22%3A%22b+c%20d%22%7D", true).as_deref(),
            Some(r#"{"a":"b c d"}"#)
        );
        // In a path `+` is itself; a `%` without two hex digits stays.
        assert_eq!(percent_decode("a+b%2", false).as_deref(), Some("a+b%2"));
        assert_eq!(percent_decode("100%zz", true).as_deref(), Some("100%zz"));
        assert_eq!(percent_decode("caf%C3%A9", true).as_deref(), Some("café"));
        assert_eq!(percent_decode("%FF", true), None);

        // The way axios (the Base44 SDK) encodes `q`: braces and quotes escaped, `:`, `$`, `,`
        // and brackets kept, spaces as `+`.
        let url = entity_url(
            "base44.app",
            "Deal?q=%7B%22stage%22:%7B%22$in%22:[%22Closed+Won%22,%22Lead%22]%7D%7D&fields=title,+amount",
        );
        let result = extract(&[("GET", &url, 200)]);
        let request = result.requests.first().cloned();
        assert_eq!(
            request.as_ref().and_then(|request| request.q.clone()),
            Some(json!({"stage": {"$in": ["Closed Won", "Lead"]}}))
        );
        assert_eq!(
            request.and_then(|request| request.fields),
            Some(vec!["title".to_owned(), "amount".to_owned()])
        );

        let bad = entity_url("base44.app", "Deal?title=%FF");
        assert_eq!(
            reasons(&extract(&[("GET", &bad, 200)])),
            [format!(
                "har #1: GET /api/apps/{APP}/entities/Deal: bad parameter: the value of `title` is not UTF-8 text once percent-decoded"
            )]
        );
    }

    #[test]
    fn unknown_parameters_are_equality_filters() {
        let alone = entity_url("base44.app", "Task?priority=2&project_id=p1&sort=title");
        let with_q = entity_url("base44.app", "Task?q=%7B%22done%22%3Afalse%7D&done=true");
        let repeated = entity_url("base44.app", "Task?tag=a&tag=b");
        // The count endpoint defines only `q`: its `sort` is a filter on a field named sort.
        let count = entity_url("base44.app", "Task/count?sort=x");
        let result = extract(&[
            ("GET", &alone, 200),
            ("GET", &with_q, 200),
            ("GET", &repeated, 200),
            ("GET", &count, 200),
        ]);
        let filters: Vec<(Operation, Option<Value>)> = result
            .requests
            .iter()
            .map(|request| (request.op, request.q.clone()))
            .collect();
        assert_eq!(
            filters,
            [
                (
                    Operation::Filter,
                    Some(json!({"priority": {"$in": ["2", 2]}, "project_id": {"$in": ["p1"]}}))
                ),
                (
                    Operation::Filter,
                    Some(json!({"$and": [{"done": false}, {"done": {"$in": ["true", true]}}]}))
                ),
                (
                    Operation::Filter,
                    Some(json!({"$and": [{"tag": {"$in": ["a"]}}, {"tag": {"$in": ["b"]}}]}))
                ),
                (Operation::Count, Some(json!({"sort": {"$in": ["x"]}}))),
            ]
        );
        assert_eq!(
            result
                .requests
                .first()
                .and_then(|request| request.sort.as_deref()),
            Some("title")
        );
    }

    #[test]
    fn writes_other_methods_and_other_calls_are_skipped() {
        let collection = entity_url("base44.app", "Task");
        let record = entity_url("base44.app", "Task/68c6d92bc3e5e79221d2ebe8");
        let restore = entity_url("base44.app", "Task/68c6d92bc3e5e79221d2ebe8/restore");
        let result = extract(&[
            ("POST", &collection, 201),
            ("PUT", &record, 200),
            ("DELETE", &record, 200),
            ("OPTIONS", &collection, 204),
            ("GET", &restore, 200),
            (
                "GET",
                "https://crm.base44.app/assets/index-a1b2.js?v=3",
                200,
            ),
            (
                "GET",
                &format!("https://base44.app/api/apps/{APP}/auth/me"),
                200,
            ),
            ("GET", &entity_url("base44.app", "User/me"), 200),
            ("GET", &record, 404),
            ("GET", &record, 0),
        ]);
        assert!(result.requests.is_empty());
        let path = format!("/api/apps/{APP}/entities");
        assert_eq!(
            reasons(&result),
            [
                format!("har #1: POST {path}/Task: writes are not replayed (POST)"),
                format!(
                    "har #2: PUT {path}/Task/68c6d92bc3e5e79221d2ebe8: writes are not replayed (PUT)"
                ),
                format!(
                    "har #3: DELETE {path}/Task/68c6d92bc3e5e79221d2ebe8: writes are not replayed (DELETE)"
                ),
                format!("har #4: OPTIONS {path}/Task: only GET requests are replayed (OPTIONS)"),
                format!(
                    "har #5: GET {path}/Task/68c6d92bc3e5e79221d2ebe8/restore: not a list, filter, count or get of an entity"
                ),
                "har #6: GET /assets/index-a1b2.js: not an entity call".to_owned(),
                format!("har #7: GET /api/apps/{APP}/auth/me: not an entity call"),
                format!("har #8: GET {path}/User/me: the signed-in user (User/me) is not replayed"),
                format!(
                    "har #9: GET {path}/Task/68c6d92bc3e5e79221d2ebe8: response status 404, not 2xx"
                ),
                format!(
                    "har #10: GET {path}/Task/68c6d92bc3e5e79221d2ebe8: no response (status 0)"
                ),
            ]
        );
    }

    #[test]
    fn cursor_list_and_trash_are_skipped() {
        let cursor = entity_url("base44.app", "Task/v2/list?limit=100&cursor=eyJrIjoxfQ");
        let trash = entity_url("app.base44.com", "Task/trash?limit=10");
        let result = extract(&[("GET", &cursor, 200), ("GET", &trash, 200)]);
        assert!(result.requests.is_empty());
        assert_eq!(
            reasons(&result),
            [
                format!(
                    "har #1: GET /api/apps/{APP}/entities/Task/v2/list: cursor paging (v2/list) is not replayed"
                ),
                format!(
                    "har #2: GET /api/apps/{APP}/entities/Task/trash: the trash is not replayed"
                ),
            ]
        );
    }

    #[test]
    fn no_secret_reaches_the_output() {
        let api_key = "sk-live-2f0a9c1b7e";
        let bearer = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig";
        let url = entity_url(
            "base44.app",
            &format!("Task?limit=5&api_key={api_key}&access_token={bearer}&X-Api-Key={api_key}"),
        );
        let write = entity_url("base44.app", &format!("Task?api_key={api_key}"));
        let text = json!({"log": {"entries": [
            {
                "request": {
                    "method": "GET",
                    "url": url,
                    "headers": [
                        {"name": "api_key", "value": api_key},
                        {"name": "Authorization", "value": format!("Bearer {bearer}")},
                        {"name": "Cookie", "value": format!("session={bearer}")}
                    ],
                    "queryString": [{"name": "api_key", "value": api_key}],
                    "cookies": [{"name": "session", "value": bearer}]
                },
                "response": {"status": 200, "content": {"text": format!("{{\"token\":\"{bearer}\"}}")}}
            },
            {
                "request": {"method": "POST", "url": write, "headers": [{"name": "api_key", "value": api_key}],
                            "postData": {"text": api_key}},
                "response": {"status": 200}
            }
        ]}})
        .to_string();
        let result = corpus_from_har(&text).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(result.requests.len(), 1);
        let output = format!(
            "{}{}",
            write_corpus(&result.requests),
            reasons(&result).join("\n")
        );
        assert!(!output.contains(api_key), "{output}");
        assert!(!output.contains(bearer), "{output}");
        assert!(!output.contains("sk-live"), "{output}");
        assert_eq!(
            result
                .requests
                .first()
                .and_then(|request| request.name.as_deref()),
            Some("har #1: GET Task?limit=5")
        );
    }

    #[test]
    fn duplicates_are_removed_and_counted() {
        let first = entity_url(
            "base44.app",
            "Task?q=%7B%22a%22%3A1%2C%22b%22%3A2%7D&limit=5&sort=x",
        );
        // The same request: other parameter order, other key order in `q`, other host.
        let again = entity_url(
            "app.base44.com",
            "Task?sort=x&limit=5&q=%7B%22b%22%3A2%2C%22a%22%3A1%7D",
        );
        let other = entity_url(
            "base44.app",
            "Task?q=%7B%22a%22%3A1%2C%22b%22%3A2%7D&limit=6&sort=x",
        );
        let result = extract(&[
            ("GET", &first, 200),
            ("GET", &again, 200),
            ("GET", &other, 200),
            ("GET", &first, 200),
        ]);
        assert_eq!(result.requests.len(), 2);
        assert_eq!(result.duplicates(), 2);
        assert_eq!(
            reasons(&result),
            [
                format!("har #2: GET /api/apps/{APP}/entities/Task: duplicate of har #1"),
                format!("har #4: GET /api/apps/{APP}/entities/Task: duplicate of har #1"),
            ]
        );
        assert_eq!(
            result.skip_counts(),
            BTreeMap::from([("duplicate".to_owned(), 2)])
        );
    }

    #[test]
    fn bad_parameters_q_and_checks_are_skipped_with_the_reason() {
        let result = extract(&[
            ("GET", &entity_url("base44.app", "Task?limit=ten"), 200),
            ("GET", &entity_url("base44.app", "Task?q=%7Bstatus%7D"), 200),
            (
                "GET",
                &entity_url(
                    "base44.app",
                    "Task?q=%7B%22a%22%3A%7B%22%24bad%22%3A1%7D%7D",
                ),
                200,
            ),
            ("GET", &entity_url("base44.app", "Task?sort=-"), 200),
            ("GET", &entity_url("base44.app", "Task-Archive"), 200),
        ]);
        assert!(result.requests.is_empty());
        let reasons: Vec<String> = result
            .skipped
            .iter()
            .map(|skip| skip.reason.to_string())
            .collect();
        assert_eq!(
            reasons.first().map(String::as_str),
            Some("bad parameter: `limit` must be a whole number of 0 or more, found `ten`")
        );
        assert_eq!(
            reasons.get(1).map(String::as_str),
            Some("unparsable q: key must be a string at line 1 column 2")
        );
        assert!(
            reasons
                .get(2)
                .is_some_and(|reason| reason.starts_with("not a valid request: invalid `q`")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .get(3)
                .is_some_and(|reason| reason.starts_with("not a valid request: invalid `sort`")),
            "{reasons:?}"
        );
        assert!(
            reasons.get(4).is_some_and(
                |reason| reason.starts_with("not a valid request: entity `Task-Archive`")
            ),
            "{reasons:?}"
        );
        assert_eq!(
            result.skip_counts(),
            BTreeMap::from([
                ("bad parameter".to_owned(), 1),
                ("not a valid request".to_owned(), 3),
                ("unparsable q".to_owned(), 1),
            ])
        );
    }

    #[test]
    fn query_string_is_used_only_when_the_url_has_no_query() {
        let url = entity_url("base44.app", "Deal");
        // Chrome copies the encoded text into `queryString`.
        let chrome = json!({"log": {"entries": [{
            "request": {"method": "GET", "url": url,
                        "queryString": [{"name": "q", "value": "%7B%22stage%22%3A%22Closed%20Won%22%7D"},
                                        {"name": "limit", "value": "3"}]},
            "response": {"status": 200}
        }]}});
        // Firefox decodes it; the URL, encoded in both, is what is read.
        let firefox = json!({"log": {"entries": [{
            "request": {"method": "GET", "url": format!("{url}?q=%7B%22stage%22%3A%22Closed+Won%22%7D&limit=3"),
                        "queryString": [{"name": "q", "value": "{\"stage\":\"Closed Won\"}"},
                                        {"name": "limit", "value": "3"}]},
            "response": {"status": 200}
        }]}});
        for text in [chrome.to_string(), firefox.to_string()] {
            let result = corpus_from_har(&text).unwrap_or_else(|error| panic!("{error}"));
            let request = result.requests.first().cloned();
            assert_eq!(
                request.as_ref().and_then(|request| request.q.clone()),
                Some(json!({"stage": "Closed Won"}))
            );
            assert_eq!(request.and_then(|request| request.limit), Some(3));
        }
    }

    #[test]
    fn errors_say_what_is_wrong_with_the_file() {
        let message = |text: &str| corpus_from_har(text).err().map(|error| error.to_string());
        assert_eq!(
            message("{\"log\": {\"entries\": [}\n").as_deref(),
            Some("not a HAR: not JSON: expected value at line 1 column 22")
        );
        assert!(
            message("{\"log\": {}}")
                .is_some_and(|text| text.starts_with("not a HAR: no log.entries")),
        );
        assert_eq!(
            message("{\"log\": {\"entries\": {}}}").as_deref(),
            Some("not a HAR: log.entries is not a list")
        );
        // A byte-order mark and an empty log are fine.
        assert_eq!(
            corpus_from_har("\u{feff}{\"log\": {\"entries\": []}}").ok(),
            Some(HarExtract::default())
        );
        let result = corpus_from_har("{\"log\": {\"entries\": [{\"request\": {}}]}}")
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            reasons(&result),
            ["har #1: not a HAR request: no request.method or request.url"]
        );
    }
}
