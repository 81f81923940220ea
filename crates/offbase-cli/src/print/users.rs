//! What `offbase users export` prints: counts, ids and file names, never a secret.

use offbase_pipeline::users::ExportSummary;
use offbase_pipeline::users::formats::Carries;
use offbase_pipeline::users::references::IdShape;

pub fn users_export(summary: &ExportSummary) {
    let shown = |text: &str| crate::output::printable(text);
    say!(
        "Exported {} of {} users to {}.",
        summary.exported,
        summary.users,
        summary.format.name()
    );
    for file in &summary.files {
        let holds = match file.carries {
            Carries::Nothing => "",
            Carries::PasswordHashes => " (holds password hashes: keep it private)",
            Carries::LoginTokens => " (login tokens in the clear: hand out, then delete)",
        };
        say!("  {}: {} users{holds}", shown(&file.path), file.users);
    }
    let ids = &summary.ids;
    if ids.kept {
        say!("Ids: kept (the Base44 id).");
    } else {
        say!(
            "Ids: new, {}{}.",
            ids.scheme,
            ids.app_id
                .as_deref()
                .map(|app| format!(" with app id {}", shown(app)))
                .unwrap_or_default()
        );
    }
    say!("Id map: {}", shown(&ids.map));
    if let Some(written) = &ids.user_map {
        say!(
            "  and {} rows in offbase.user_map of {} (schema {}).",
            written.rows,
            shown(&written.database),
            shown(&written.pg_schema)
        );
    }
    let sign_in = &summary.sign_in;
    say!(
        "Sign-in: {} keep their password (bcrypt hash carried), {} need a reset or magic link; {} verified, {} disabled.",
        sign_in.keep_password,
        sign_in.need_reset_or_link,
        sign_in.verified,
        sign_in.disabled
    );
    if !summary.secret_fields.is_empty() {
        let names: Vec<String> = summary
            .secret_fields
            .iter()
            .map(|field| shown(&field.field))
            .collect();
        say!(
            "Secret-looking fields (values never shown): {}.",
            names.join(", ")
        );
    }
    // The users' own ids are rewritten too, but they are no reference.
    let references = || {
        summary
            .references_by_id
            .iter()
            .filter(|counts| counts.shape != Some(IdShape::UserId))
    };
    let fields = references().count();
    let values: u64 = references().map(|counts| counts.users).sum();
    match &ids.rewrite_plan {
        Some(plan) => say!(
            "References by id: {values} values in {fields} fields name a user; rewrite them with {} (review it, then psql -v ON_ERROR_STOP=1 -f it after the last sync).",
            shown(plan)
        ),
        None => say!("References by id: {values} values in {fields} fields, kept as they are."),
    }
    let email_values: u64 = summary
        .references_by_email
        .iter()
        .map(|counts| counts.values)
        .sum();
    let ignoring_case: u64 = summary
        .references_by_email
        .iter()
        .map(|counts| counts.ignoring_case)
        .sum();
    say!(
        "References by email: {email_values} values in {} fields, kept as they are ({ignoring_case} match a user only ignoring case).",
        summary.references_by_email.len()
    );
    if !summary.not_exported.is_empty() {
        say!(
            "Not exported: {} (see the report).",
            summary.not_exported.len()
        );
    }
    outcome!("Report: {}", shown(&summary.report));
}
