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
//! Parameters follow the platform's rule, stated once in [`crate::api`]: each read defines its
//! parameters ([`ReadEndpoint`]: the list `q sort limit skip fields`, the count only `q`) and
//! any other parameter is an equality filter ([`equality_condition`]: `?priority=2` becomes
//! `{"priority":{"$in":["2",2]}}`), folded into `q` with `$and` when `q` is present. A
//! repeated defined parameter: the last one wins.
//!
//! Secrets: headers, cookies and bodies are never read, and query parameters that carry a
//! credential (`api_key`, `access_token`, ...) are dropped, so the output holds no key.
//!
//! Reading a capture and turning its entries into corpus requests are one pass, kept in this
//! file; its unit tests over capture shapes are in `tests.rs`.

use crate::api::{ReadEndpoint, equality_condition};
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
    let endpoint = match request.op {
        Operation::Count => ReadEndpoint::Count,
        _ => ReadEndpoint::List,
    };

    let mut q_text = None;
    let mut equals: Vec<(&str, &str)> = Vec::new();
    for (name, value) in pairs {
        if !endpoint.defines(name) {
            equals.push((name, value));
            continue;
        }
        match name.as_str() {
            "q" => q_text = Some(value.as_str()),
            "sort" => {
                request.sort = Some(value.clone()).filter(|sort| !sort.trim().is_empty());
            }
            "limit" => request.limit = Some(whole_number("limit", value)?),
            "skip" => request.skip = Some(whole_number("skip", value)?),
            "fields" => {
                let fields: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|field| !field.is_empty())
                    .map(str::to_owned)
                    .collect();
                request.fields = (!fields.is_empty()).then_some(fields);
            }
            // The list defines no other parameter.
            _ => {}
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
        .map(|(field, text)| ((*field).to_owned(), equality_condition(text)))
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

#[cfg(test)]
mod tests;
