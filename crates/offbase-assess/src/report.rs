//! `assessment.md`: the assessment as a page a founder or a client reads, built from the same
//! [`Assessment`] as `assessment.json`, so the two never disagree.

use crate::{Assessment, Finding, Kind};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What replaces an integration off the platform.
fn replacement(integration: &str) -> &'static str {
    let name = integration.split(' ').next().unwrap_or(integration);
    match name {
        "Core.UploadFile" => "a storage bucket (offbase files copies the files already uploaded)",
        "Core.UploadPrivateFile" | "Core.CreateFileSignedUrl" => {
            "a private bucket with signed URLs"
        }
        "Core.InvokeLLM" => "an LLM provider's API, called from a backend function",
        "Core.SendEmail" => "an email provider (SMTP, or a sending API)",
        "Core.GenerateImage" => "an image generation API",
        "Core.ExtractDataFromUploadedFile" => "a document parsing step (or an LLM API)",
        _ => "the integration's own API, called from a backend function",
    }
}

/// Call sites by detail, for a kind.
fn counted<'a>(findings: impl Iterator<Item = &'a Finding>) -> BTreeMap<&'a str, Vec<&'a Finding>> {
    let mut counted: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for finding in findings {
        counted
            .entry(finding.detail.as_str())
            .or_default()
            .push(finding);
    }
    counted
}

/// Up to three `file:line` of the call sites, and how many more.
fn places(findings: &[&Finding]) -> String {
    let mut text: Vec<String> = findings
        .iter()
        .take(3)
        .map(|finding| format!("{}:{}", finding.file, finding.line))
        .collect();
    if findings.len() > 3 {
        text.push(format!("and {} more", findings.len() - 3));
    }
    text.join(", ")
}

/// The work left, in the order it is usually done, each line pointing at the code.
fn work_left(assessment: &Assessment) -> String {
    let first = |kind: Kind| {
        assessment
            .of_kind(kind)
            .next()
            .map(|finding| format!("{}:{}", finding.file, finding.line))
    };
    let count = |kind: Kind| assessment.of_kind(kind).count();
    let mut steps = Vec::new();
    if count(Kind::DynamicEntity) > 0 {
        steps.push(format!(
            "Check the {} dynamic entity calls by hand (from {}).",
            count(Kind::DynamicEntity),
            first(Kind::DynamicEntity).unwrap_or_default()
        ));
    }
    if count(Kind::Auth) + count(Kind::Users) > 0 {
        steps.push(format!(
            "Re-create sign-in on the new provider: {} auth and {} user management call sites (from {}); users and ids move with `offbase users export`.",
            count(Kind::Auth),
            count(Kind::Users),
            first(Kind::Auth).or_else(|| first(Kind::Users)).unwrap_or_default()
        ));
    }
    if !assessment.backend_functions.is_empty() {
        let names: Vec<String> = assessment
            .backend_functions
            .iter()
            .map(|function| format!("{} ({}:{})", function.name, function.file, function.line))
            .collect();
        steps.push(format!(
            "Run the {} backend functions elsewhere, with their secrets and triggers: {}.",
            names.len(),
            names.join(", ")
        ));
    }
    if count(Kind::Integration) + count(Kind::Agent) > 0 {
        steps.push(format!(
            "Replace {} integration and {} agent call sites with services (from {}).",
            count(Kind::Integration),
            count(Kind::Agent),
            first(Kind::Integration)
                .or_else(|| first(Kind::Agent))
                .unwrap_or_default()
        ));
    }
    if count(Kind::Host) + count(Kind::FileUrl) > 0 {
        steps.push(format!(
            "Change {} hard-coded hosts and {} file URLs in code and assets (from {}).",
            count(Kind::Host),
            count(Kind::FileUrl),
            first(Kind::Host)
                .or_else(|| first(Kind::FileUrl))
                .unwrap_or_default()
        ));
    }
    if count(Kind::Entity) > 0 {
        steps.push(format!(
            "Point the {} entity call sites at the new backend (from {}).",
            count(Kind::Entity),
            first(Kind::Entity).unwrap_or_default()
        ));
    }
    if steps.is_empty() {
        return String::new();
    }
    let mut text = String::from("\n## Work left\n\n");
    for (number, step) in steps.iter().enumerate() {
        let _ = writeln!(text, "{}. {step}", number + 1);
    }
    text
}

/// `assessment.md`.
pub fn assessment_markdown(assessment: &Assessment) -> String {
    let mut text = String::new();
    let count = |kind: Kind| assessment.of_kind(kind).count();
    let entity_calls = count(Kind::Entity);
    let _ = writeln!(text, "# Assessment: {}\n", assessment.app);
    let _ = writeln!(
        text,
        "{} files read ({} parsed as code{}); SDK `@base44/sdk` {}.\n",
        assessment.files.read,
        assessment.files.code,
        if assessment.files.unparsed.is_empty() {
            String::new()
        } else {
            format!(", {} could not be parsed", assessment.files.unparsed.len())
        },
        assessment
            .sdk_version
            .as_deref()
            .unwrap_or("not in package.json")
    );

    if assessment.files.code == 0 {
        let _ = writeln!(
            text,
            "No JavaScript or TypeScript was found: this reads the app's code, so give the root of its code export or repository (the folder with `src/` and `package.json`).\n"
        );
    }
    let _ = writeln!(text, "## Readiness\n");
    let _ = writeln!(
        text,
        "| area | size | offbase moves it | left to do |\n|---|---:|---|---|"
    );
    let rows = [
        (
            "entities (data, schemas)",
            format!(
                "{} entities, {} call sites",
                assessment.entities.len(),
                entity_calls
            ),
            "yes: `offbase migrate` (data, schemas, ids, references)",
            "point the SDK calls at the new backend (`offbase serve`, planned) or rewrite them",
        ),
        (
            "dynamic entity access",
            count(Kind::DynamicEntity).to_string(),
            "the data, yes",
            "check each call by hand: its entity is known only when the app runs",
        ),
        (
            "sign-in and users",
            format!(
                "{} auth, {} user management call sites",
                count(Kind::Auth),
                count(Kind::Users)
            ),
            "users and ids: `offbase users export`; access rules: row level security",
            "re-create the login flows on the new provider",
        ),
        (
            "backend functions",
            format!(
                "{} functions, {} invocations",
                assessment.backend_functions.len(),
                count(Kind::Function)
            ),
            "no",
            "run them elsewhere (Deno), re-create their triggers and secrets",
        ),
        (
            "integrations and agents",
            format!(
                "{} integration, {} agent call sites",
                count(Kind::Integration),
                count(Kind::Agent)
            ),
            "uploaded files: `offbase files copy`",
            "replace each with a service (below)",
        ),
        (
            "hard-coded platform references",
            format!(
                "{} hosts, {} file URLs",
                count(Kind::Host),
                count(Kind::FileUrl)
            ),
            "file URLs in records: `offbase files rewrite`",
            "change the ones in code and assets",
        ),
    ];
    for (area, size, moves, left) in rows {
        let _ = writeln!(text, "| {area} | {size} | {moves} | {left} |");
    }
    text.push_str(&work_left(assessment));

    let _ = writeln!(text, "\n## Entities\n");
    let _ = writeln!(
        text,
        "| entity | schema | calls | methods |\n|---|---|---:|---|"
    );
    for (name, entity) in &assessment.entities {
        let calls: usize = entity.methods.values().sum();
        let methods: Vec<String> = entity
            .methods
            .iter()
            .map(|(method, count)| format!("{method} {count}"))
            .collect();
        let _ = writeln!(
            text,
            "| {name} | {} | {calls} | {} |",
            if entity.schema { "yes" } else { "**no**" },
            methods.join(", ")
        );
    }
    let unused = assessment.unused_entities();
    if !unused.is_empty() {
        let _ = writeln!(
            text,
            "\nWith a schema, never called: {}.",
            unused.join(", ")
        );
    }
    let unknown = assessment.unknown_entities();
    if !unknown.is_empty() {
        let _ = writeln!(
            text,
            "\nCalled, with no schema (a typo, or the built-in `User`): {}.",
            unknown.join(", ")
        );
    }

    let _ = writeln!(text, "\n## Reads offbase can check\n");
    let reads = assessment
        .of_kind(Kind::Entity)
        .filter(|finding| {
            let method = finding.detail.split(['.', ' ']).nth(1).unwrap_or_default();
            matches!(method, "list" | "filter")
        })
        .count();
    let _ = writeln!(
        text,
        "{} `list`/`filter` calls have only literal arguments: `assessment.corpus.jsonl` holds them for `offbase diff behaviour --corpus`. {} other `list`/`filter` calls take arguments known only when the app runs, and {} entity calls name their entity only at run time.",
        assessment.literal_reads.len(),
        reads.saturating_sub(assessment.literal_reads.len()),
        count(Kind::DynamicEntity)
    );
    // The reads that are not replayable, where they are.
    let literal: std::collections::BTreeSet<(&str, usize)> = assessment
        .of_kind(Kind::LiteralRead)
        .map(|finding| (finding.file.as_str(), finding.line))
        .collect();
    let dynamic: Vec<&Finding> = assessment
        .of_kind(Kind::Entity)
        .filter(|finding| {
            let method = finding.detail.split(['.', ' ']).nth(1).unwrap_or_default();
            matches!(method, "list" | "filter")
                && !literal.contains(&(finding.file.as_str(), finding.line))
        })
        .collect();
    if !dynamic.is_empty() {
        let _ = writeln!(text, "\n| read | where |\n|---|---|");
        for finding in dynamic {
            let _ = writeln!(
                text,
                "| {} | {}:{} |",
                finding.detail, finding.file, finding.line
            );
        }
    }

    for (title, kind, hint) in [
        ("Sign-in (auth)", Kind::Auth, None),
        ("User management", Kind::Users, None),
        ("Function invocations", Kind::Function, None),
        ("Integrations", Kind::Integration, Some(())),
        ("Agents", Kind::Agent, None),
        ("Dynamic entity calls", Kind::DynamicEntity, None),
        ("Hard-coded Base44 hosts", Kind::Host, None),
        ("Hard-coded Base44 file URLs", Kind::FileUrl, None),
        ("Settings and secrets read", Kind::Env, None),
    ] {
        let grouped = counted(assessment.of_kind(kind));
        if grouped.is_empty() {
            continue;
        }
        let _ = writeln!(text, "\n## {title}\n");
        if hint.is_some() {
            let _ = writeln!(
                text,
                "| call | sites | replace with | where |\n|---|---:|---|---|"
            );
        } else {
            let _ = writeln!(text, "| call | sites | where |\n|---|---:|---|");
        }
        for (detail, findings) in grouped {
            if hint.is_some() {
                let _ = writeln!(
                    text,
                    "| {detail} | {} | {} | {} |",
                    findings.len(),
                    replacement(detail),
                    places(&findings)
                );
            } else {
                let _ = writeln!(
                    text,
                    "| {detail} | {} | {} |",
                    findings.len(),
                    places(&findings)
                );
            }
        }
    }

    if !assessment.backend_functions.is_empty() {
        let _ = writeln!(text, "\n## Backend functions\n");
        let _ = writeln!(
            text,
            "| function | entry | service role | entities | integrations | imports | reads | trigger |\n|---|---|---|---|---|---|---|---|"
        );
        for function in &assessment.backend_functions {
            let join = |set: &std::collections::BTreeSet<String>| {
                set.iter().cloned().collect::<Vec<_>>().join(", ")
            };
            let _ = writeln!(
                text,
                "| {} | {}:{} ({}) | {} | {} | {} | {} | {} | {} |",
                function.name,
                function.file,
                function.line,
                if function.style.is_empty() {
                    "no entry found"
                } else {
                    &function.style
                },
                if function.service_role { "yes" } else { "no" },
                join(&function.entities),
                join(&function.integrations),
                join(&function.imports),
                join(&function.env),
                function
                    .trigger
                    .as_deref()
                    .map_or_else(String::new, |trigger| format!("{trigger}: re-create it")),
            );
        }
    }

    if !assessment.files.unparsed.is_empty() {
        let _ = writeln!(text, "\n## Files not parsed\n");
        for unparsed in &assessment.files.unparsed {
            let _ = writeln!(text, "- {}: {}", unparsed.file, unparsed.reason);
        }
    }
    text
}
