//! `offbase assess`: what in an exported app still depends on Base44.

use super::Context;
use crate::cli::AssessArgs;
use crate::print::{outcome, say};
use offbase_assess::{Kind, assess as assess_app, assessment_markdown};
use offbase_pipeline::workspace::files::write_atomic;
use std::process::ExitCode;

pub fn assess(arguments: AssessArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let assessment = assess_app(&arguments.app_dir)?;
    std::fs::create_dir_all(&arguments.out)
        .map_err(|error| anyhow::anyhow!("cannot create {}: {error}", arguments.out.display()))?;
    let markdown = arguments.out.join("assessment.md");
    let data = arguments.out.join("assessment.json");
    let corpus = arguments.out.join("assessment.corpus.jsonl");
    write_atomic(&markdown, assessment_markdown(&assessment).as_bytes())?;
    let mut text = serde_json::to_string_pretty(&assessment)?;
    text.push('\n');
    write_atomic(&data, text.as_bytes())?;
    write_atomic(
        &corpus,
        offbase_base44::corpus::write_corpus(&assessment.literal_reads).as_bytes(),
    )?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&assessment)?);
        return Ok(ExitCode::SUCCESS);
    }
    let count = |kind: Kind| assessment.of_kind(kind).count();
    outcome!(
        "{}: {} files read, {} parsed as code{}",
        assessment.app,
        assessment.files.read,
        assessment.files.code,
        if assessment.files.unparsed.is_empty() {
            String::new()
        } else {
            format!(
                ", {} not parsed (listed in the report)",
                assessment.files.unparsed.len()
            )
        }
    );
    say!(
        "  entities      {} entities, {} call sites ({} dynamic), {} reads offbase can replay",
        assessment.entities.len(),
        count(Kind::Entity),
        count(Kind::DynamicEntity),
        assessment.literal_reads.len()
    );
    say!(
        "  sign-in       {} auth and {} user management call sites",
        count(Kind::Auth),
        count(Kind::Users)
    );
    say!(
        "  functions     {} backend functions, {} invocations",
        assessment.backend_functions.len(),
        count(Kind::Function)
    );
    say!(
        "  integrations  {} integration and {} agent call sites",
        count(Kind::Integration),
        count(Kind::Agent)
    );
    say!(
        "  hard-coded    {} Base44 hosts, {} file URLs",
        count(Kind::Host),
        count(Kind::FileUrl)
    );
    say!(
        "Report: {} (and {}, {})",
        markdown.display(),
        data.display(),
        corpus.display()
    );
    Ok(ExitCode::SUCCESS)
}
