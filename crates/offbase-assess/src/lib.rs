//! `offbase assess`: a static, deterministic reading of an exported Base44 app (the code
//! export or a repository: `src/`, `base44/`, `functions/`, `public/`, `index.html`,
//! `package.json`) that says what in it still depends on Base44, file by file: the SDK's
//! entity, auth, user, function, integration and agent calls (read with a real JavaScript and
//! TypeScript parser, through aliases, destructuring, imports of another file's exports,
//! optional chaining and computed members), the backend functions and what they use, the
//! hard-coded platform hosts and file URLs, the `VITE_BASE44_*` settings and the SDK version.
//!
//! This crate owns the reading and the assessment's data; `report` renders it as Markdown.
//! Files are read from disk (the only I/O); nothing runs the app's code. A file that does not
//! parse is listed, never fatal.

mod files;
mod report;
mod scan;
mod text;

pub use report::assessment_markdown;

use offbase_base44::corpus::{CorpusRequest, Operation};
use scan::{FileScan, SdkPath};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An entity call: `ENTITY.METHOD` (` service-role` when through `asServiceRole`).
    Entity,
    /// An entity call whose entity name is not a literal: the method.
    DynamicEntity,
    /// A `list` or `filter` whose arguments are all literals (also an [`Kind::Entity`]).
    LiteralRead,
    Auth,
    Users,
    /// `functions.invoke(NAME)`.
    Function,
    /// `integrations.PACKAGE.NAME(...)`.
    Integration,
    Agent,
    /// A Base44 host written in the code or its assets.
    Host,
    /// A Base44-hosted file's URL written in the code or its assets.
    FileUrl,
    /// `import.meta.env.VITE_BASE44_*` or `Deno.env.get(NAME)`.
    Env,
    /// A backend function's entry: `NAME STYLE` (`deno-serve`, `export-default`).
    BackendFunction,
    /// A backend function's import another runtime must provide (`npm:`, `base44:`, ...).
    Import,
}

impl Kind {
    /// The name used in reports and markers (`entity`, `dynamic-entity`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Entity => "entity",
            Kind::DynamicEntity => "dynamic-entity",
            Kind::LiteralRead => "literal-read",
            Kind::Auth => "auth",
            Kind::Users => "users",
            Kind::Function => "function",
            Kind::Integration => "integration",
            Kind::Agent => "agent",
            Kind::Host => "host",
            Kind::FileUrl => "file-url",
            Kind::Env => "env",
            Kind::BackendFunction => "backend-function",
            Kind::Import => "import",
        }
    }
}

/// One place in the code that depends on Base44.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// The file, relative to the app, `/`-separated.
    pub file: String,
    /// 1-based.
    pub line: usize,
    pub kind: Kind,
    pub detail: String,
}

/// A file that could not be read as code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unparsed {
    pub file: String,
    pub reason: String,
}

/// One entity as the code uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EntityUse {
    /// Whether the app has a schema for it.
    pub schema: bool,
    /// Call sites by method (service-role calls counted under `METHOD service-role`).
    pub methods: BTreeMap<String, usize>,
}

/// One backend function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackendFunction {
    pub name: String,
    pub file: String,
    pub line: usize,
    /// `deno-serve` or `export-default`.
    pub style: String,
    pub imports: BTreeSet<String>,
    /// Environment variables and secrets it reads.
    pub env: BTreeSet<String>,
    pub service_role: bool,
    pub entities: BTreeSet<String>,
    pub integrations: BTreeSet<String>,
    /// `webhook` or `scheduled` when its name or imports look so: its trigger lives on the
    /// platform and must be re-created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// What files were read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FilesRead {
    /// Every file read (code and text).
    pub read: usize,
    /// JavaScript and TypeScript files parsed.
    pub code: usize,
    pub unparsed: Vec<Unparsed>,
}

/// The assessment of one app.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub app: String,
    /// `@base44/sdk` as `package.json` asks for it.
    pub sdk_version: Option<String>,
    pub files: FilesRead,
    /// By entity name: the entities the code calls and those with a schema.
    pub entities: BTreeMap<String, EntityUse>,
    pub backend_functions: Vec<BackendFunction>,
    /// The reads offbase can replay (`offbase diff behaviour --corpus`).
    pub literal_reads: Vec<CorpusRequest>,
    /// Every finding, by file and line.
    pub findings: Vec<Finding>,
}

impl Assessment {
    /// Findings of one kind.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |finding| finding.kind == kind)
    }

    /// Entities with a schema and no call in the code.
    pub fn unused_entities(&self) -> Vec<&str> {
        self.entities
            .iter()
            .filter(|(_, entity)| entity.schema && entity.methods.is_empty())
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Entities the code calls that have no schema (a typo, or a built-in such as `User`).
    pub fn unknown_entities(&self) -> Vec<&str> {
        self.entities
            .iter()
            .filter(|(_, entity)| !entity.schema && !entity.methods.is_empty())
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

/// Why an app cannot be assessed at all.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not a folder: give the exported app's folder (its src/, base44/, package.json)"
    )]
    NotAFolder { path: PathBuf },
}

/// Reads the app in `app_dir` and assesses it.
pub fn assess(app_dir: &Path) -> Result<Assessment, AssessError> {
    if !app_dir.is_dir() {
        return Err(AssessError::NotAFolder {
            path: app_dir.to_path_buf(),
        });
    }
    let listed = files::list(app_dir)?;
    let mut read = FilesRead {
        read: listed.len(),
        ..FilesRead::default()
    };
    let mut findings = Vec::new();
    let mut sources = Vec::new();
    for file in &listed {
        let text = match std::fs::read(&file.path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) => {
                read.unparsed.push(Unparsed {
                    file: file.name.clone(),
                    reason: error.to_string(),
                });
                continue;
            }
        };
        findings.extend(text::references(&file.name, &text));
        if file.code {
            sources.push((file, text));
        }
    }
    read.code = sources.len();
    // First reading: what each module exports; then each file again with the SDK names it
    // imports from the others.
    let empty = BTreeMap::new();
    let first: Vec<FileScan> = sources
        .iter()
        .map(|(file, text)| scan::scan_file(&file.path, &file.name, text, &empty))
        .collect();
    let exports: BTreeMap<String, &scan::Exports> = sources
        .iter()
        .zip(&first)
        .filter(|(_, scan)| !scan.exports.is_empty())
        .map(|((file, _), scan)| (files::module_key(&file.name), &scan.exports))
        .collect();
    let mut scans = Vec::new();
    for ((file, text), scan) in sources.iter().zip(first.iter()) {
        let imported = imported_names(&file.name, scan, &exports);
        if imported.is_empty() {
            scans.push(None);
        } else {
            scans.push(Some(scan::scan_file(
                &file.path, &file.name, text, &imported,
            )));
        }
    }
    let mut literal_calls = Vec::new();
    for (((file, _), first), second) in sources.iter().zip(first).zip(scans) {
        let scan = second.unwrap_or(first);
        if let Some(reason) = scan.error {
            read.unparsed.push(Unparsed {
                file: file.name.clone(),
                reason,
            });
            continue;
        }
        findings.extend(scan.findings);
        literal_calls.extend(
            scan.literal_calls
                .into_iter()
                .map(|call| (file.name.clone(), call)),
        );
    }
    findings.sort();
    findings.dedup();
    read.unparsed
        .sort_by(|left, right| left.file.cmp(&right.file));

    let mut entities: BTreeMap<String, EntityUse> = BTreeMap::new();
    if let Ok(outcome) = offbase_base44::read_app(app_dir) {
        for entity in &outcome.app.entities {
            entities.entry(entity.name.clone()).or_default().schema = true;
        }
    }
    for finding in findings
        .iter()
        .filter(|finding| finding.kind == Kind::Entity)
    {
        if let Some((entity, method)) = finding.detail.split_once('.') {
            *entities
                .entry(entity.to_owned())
                .or_default()
                .methods
                .entry(method.to_owned())
                .or_default() += 1;
        }
    }
    let literal_reads = literal_calls
        .into_iter()
        .filter_map(|(file, call)| corpus_request(&file, call))
        .collect();
    Ok(Assessment {
        app: app_dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| app_dir.display().to_string()),
        sdk_version: files::sdk_version(app_dir),
        files: read,
        entities,
        backend_functions: backend_functions(&findings),
        literal_reads,
        findings,
    })
}

/// The SDK names a file imports from other modules, by local name.
fn imported_names(
    file: &str,
    scan: &FileScan,
    exports: &BTreeMap<String, &scan::Exports>,
) -> BTreeMap<String, SdkPath> {
    let mut names = BTreeMap::new();
    for (source, imported) in &scan.imports {
        let Some(module) = files::resolve_import(file, source) else {
            continue;
        };
        let Some(module_exports) = exports
            .get(&module)
            .or_else(|| exports.get(&format!("{module}/index")))
        else {
            continue;
        };
        for (name, local) in imported {
            if let Some(path) = module_exports.get(name) {
                names.insert(local.clone(), path.clone());
            }
        }
    }
    names
}

/// A literal `list(sort, limit, skip, fields)` or `filter(query, sort, limit, skip, fields)`
/// as a corpus request, named after where it is.
fn corpus_request(file: &str, call: scan::LiteralCall) -> Option<CorpusRequest> {
    use serde_json::Value;
    let mut arguments = call.arguments.into_iter();
    let (op, q) = match call.method.as_str() {
        "filter" => (Operation::Filter, Some(arguments.next()?)),
        "list" => (Operation::List, None),
        _ => return None,
    };
    let sort = match arguments.next() {
        Some(Value::String(sort)) => Some(sort),
        None | Some(Value::Null) => None,
        Some(_) => return None,
    };
    let count = |value: Option<Value>| match value {
        Some(Value::Number(number)) => number.as_u64().map(Some),
        None | Some(Value::Null) => Some(None),
        Some(_) => None,
    };
    let limit = count(arguments.next())?;
    let skip = count(arguments.next())?;
    let fields = match arguments.next() {
        Some(Value::Array(fields)) => Some(
            fields
                .into_iter()
                .map(|field| field.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?,
        ),
        None | Some(Value::Null) => None,
        Some(_) => return None,
    };
    Some(CorpusRequest {
        name: Some(format!("{file}:{}", call.line)),
        entity: call.entity,
        op,
        q,
        sort,
        limit,
        skip,
        fields,
        id: None,
    })
}

/// The backend functions, from the findings in their files.
fn backend_functions(findings: &[Finding]) -> Vec<BackendFunction> {
    let mut functions: BTreeMap<String, BackendFunction> = BTreeMap::new();
    for finding in findings
        .iter()
        .filter(|finding| scan::is_backend_function_file(&finding.file))
    {
        let function = functions.entry(finding.file.clone()).or_default();
        function.file = finding.file.clone();
        function.name = scan::backend_function_name(&finding.file);
        match finding.kind {
            Kind::BackendFunction => {
                function.line = finding.line;
                function.style = finding
                    .detail
                    .rsplit_once(' ')
                    .map(|(_, style)| style.to_owned())
                    .unwrap_or_default();
            }
            Kind::Import => {
                function.imports.insert(finding.detail.clone());
            }
            Kind::Env => {
                function.env.insert(finding.detail.clone());
            }
            Kind::Entity | Kind::Integration => {
                let (detail, service) = match finding.detail.strip_suffix(" service-role") {
                    Some(detail) => (detail, true),
                    None => (finding.detail.as_str(), false),
                };
                function.service_role |= service;
                let name = detail.split('.').next().unwrap_or(detail).to_owned();
                if finding.kind == Kind::Entity {
                    function.entities.insert(name);
                } else {
                    function.integrations.insert(detail.to_owned());
                }
            }
            _ => {}
        }
    }
    for function in functions.values_mut() {
        function.trigger = trigger(function);
    }
    functions.into_values().collect()
}

/// `webhook` or `scheduled` when the function's name or imports say so.
fn trigger(function: &BackendFunction) -> Option<String> {
    let name = function.name.to_ascii_lowercase();
    let webhook = ["webhook", "hook", "stripe", "callback"]
        .iter()
        .any(|word| name.contains(word))
        || function
            .imports
            .iter()
            .any(|import| import.contains("stripe"));
    let scheduled = [
        "cron", "schedule", "nightly", "daily", "hourly", "weekly", "cleanup",
    ]
    .iter()
    .any(|word| name.contains(word));
    if webhook {
        Some("webhook".to_owned())
    } else if scheduled {
        Some("scheduled".to_owned())
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
