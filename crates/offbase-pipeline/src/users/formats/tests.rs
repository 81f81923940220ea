//! Each format on hand-built users, validated against the JSON schemas written from each
//! target's documentation (`tests/fixtures/users/`), with no secret where none belongs.

use super::*;
use crate::users::ids::new_id;
use serde_json::json;
use std::path::PathBuf;

const HASH: &str = "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K";
const PHP_HASH: &str = "$2y$10$abcdefghijklmnopqrstuuN0Pq1q3Zx8YZ8o1b9Ju3oC/0uD1T0Wm";
const TOTP: &str = "JBSWY3DPEHPK3PXP-totp-seed";
const API_KEY: &str = "sk_live_planted_api_key_value";

fn user(value: serde_json::Value) -> User {
    let Value::Object(record) = value else {
        panic!("not an object")
    };
    match User::from_record(&record) {
        Ok(user) => user,
        Err(why) => panic!("{why:?}"),
    }
}

fn users() -> Vec<User> {
    vec![
        user(json!({
            "id": "u1", "email": "ann@example.com", "full_name": "Ann Marie Lee", "role": "admin",
            "is_verified": true, "disabled": false, "app_id": "app1",
            "created_date": "2026-01-02T03:04:05.123000", "updated_date": "2026-01-03T00:00:00Z",
            "password_hash": HASH, "totp_secret": TOTP, "api_key_encrypted": API_KEY,
            "salon_id": "s1", "tags": ["a", "b"]
        })),
        user(json!({
            "id": "u2", "email": "bob@example.com", "full_name": "Bob", "role": "teacher",
            "is_verified": false, "disabled": true, "pin_hash": PHP_HASH, "_app_role": "user"
        })),
        user(json!({"id": "u3", "email": "", "full_name": "No Mail"})),
        user(json!({"id": "u0", "email": "cy@example.com"})),
    ]
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/users")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let schema: Value =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{name}: {error}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{instance}");
}

fn rendered(format: Format) -> Rendered {
    let users = users();
    let ids: BTreeMap<String, String> = users
        .iter()
        .map(|user| (user.id.clone(), new_id(format, "app1", &user.id)))
        .collect();
    let tokens: BTreeMap<String, Secret> = users
        .iter()
        .map(|user| {
            (
                user.id.clone(),
                Secret::new(format!("token-of-{}", user.id)),
            )
        })
        .collect();
    render(
        format,
        &users,
        &Rendering {
            ids: &ids,
            pg_schema: "app",
            login_tokens: &tokens,
        },
    )
}

fn lines(artefact: &Artefact) -> Vec<Value> {
    String::from_utf8_lossy(&artefact.contents)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

fn all_text(rendered: &Rendered) -> String {
    rendered
        .artefacts
        .iter()
        .map(|artefact| String::from_utf8_lossy(&artefact.contents).into_owned())
        .collect()
}

#[test]
fn supabase_payloads_match_the_documented_attributes() {
    let rendered = rendered(Format::Supabase);
    assert_eq!(rendered.exported, ["u0", "u1", "u2"]);
    assert_eq!(rendered.skipped.len(), 1, "u3 has no email");
    let validator = schema("supabase-admin-create-user.schema.json");
    let payloads = lines(&rendered.artefacts[0]);
    for payload in &payloads {
        assert_valid(&validator, payload);
    }
    // The schema is strict: an undocumented key, or an id that is no UUID, fails it.
    assert!(!validator.is_valid(&json!({"email": "a@example.com", "user_id": "u1"})));
    assert!(!validator.is_valid(&json!({"email": "a@example.com", "id": "u1"})));
    let ann = &payloads[1];
    assert_eq!(ann["id"], new_id(Format::Supabase, "app1", "u1"));
    assert_eq!(ann["email_confirm"], true);
    assert_eq!(ann["password_hash"], HASH);
    assert_eq!(ann["user_metadata"], json!({"full_name": "Ann Marie Lee"}));
    assert_eq!(ann["app_metadata"]["role"], "admin");
    assert_eq!(ann["app_metadata"]["base44"]["id"], "u1");
    assert_eq!(
        ann["app_metadata"]["data"],
        json!({"salon_id": "s1", "tags": ["a", "b"]})
    );
    assert!(ann.get("ban_duration").is_none());
    let bob = &payloads[2];
    assert_eq!(bob["ban_duration"], supabase::BANNED_FOR);
    assert_eq!(
        bob["password_hash"], PHP_HASH,
        "a PIN hash signs in when no password hash"
    );
    assert_eq!(bob["email_confirm"], false);
    assert!(payloads[0].get("password_hash").is_none());
    assert_eq!(rendered.artefacts[0].carries, Carries::PasswordHashes);
    let text = all_text(&rendered);
    assert!(!text.contains(TOTP) && !text.contains(API_KEY));
}

#[test]
fn auth0_files_match_the_documented_schema_and_stay_under_the_limit() {
    let users = users();
    let sorted: Vec<&User> = {
        let mut sorted: Vec<&User> = users.iter().collect();
        sorted.sort_by(|left, right| left.id.cmp(&right.id));
        sorted
    };
    let whole = auth0::render(&sorted, auth0::FILE_LIMIT);
    assert_eq!(whole.artefacts.len(), 1);
    let validator = schema("auth0-bulk-import-user.schema.json");
    assert!(!validator.is_valid(&json!({"email": "a@example.com", "role": "admin"})));
    assert!(!validator.is_valid(&json!({"email_verified": true})));
    let mut seen = Vec::new();
    // A limit that fits about one user a file splits them; every user lands once.
    let split = auth0::render(&sorted, 900);
    assert!(split.artefacts.len() > 1, "{}", split.artefacts.len());
    for (index, artefact) in split.artefacts.iter().enumerate() {
        assert_eq!(artefact.file, auth0::file_name(index + 1));
        assert!(
            artefact.contents.len() <= 900,
            "{}",
            artefact.contents.len()
        );
        let users: Vec<Value> =
            serde_json::from_slice(&artefact.contents).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(users.len(), artefact.users);
        for user in &users {
            assert_valid(&validator, user);
            seen.push(user["user_id"].as_str().unwrap_or_default().to_owned());
            if let Some(hash) = user.get("custom_password_hash") {
                assert_eq!(hash["algorithm"], "bcrypt");
                assert_eq!(hash["hash"]["encoding"], "utf8");
                let value = hash["hash"]["value"].as_str().unwrap_or_default();
                assert!(
                    value.starts_with("$2a$") || value.starts_with("$2b$"),
                    "{value}"
                );
            }
        }
    }
    assert_eq!(seen, ["u0", "u1", "u2"]);
    let users: Vec<Value> = serde_json::from_slice(&whole.artefacts[0].contents)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(users[1]["email_verified"], true);
    assert_eq!(users[1]["name"], "Ann Marie Lee");
    assert_eq!(users[2]["blocked"], true);
    assert_eq!(
        users[2]["custom_password_hash"]["hash"]["value"],
        PHP_HASH.replacen("$2y$", "$2b$", 1)
    );
    let text = all_text(&whole);
    assert!(!text.contains(TOTP) && !text.contains(API_KEY));
}

#[test]
fn clerk_payloads_match_the_documented_body() {
    let rendered = rendered(Format::Clerk);
    let validator = schema("clerk-create-user.schema.json");
    assert!(!validator.is_valid(&json!({"password_digest": HASH})));
    assert!(!validator.is_valid(&json!({"externalId": "u1"})));
    let payloads = lines(&rendered.artefacts[0]);
    assert_eq!(payloads.len(), 3);
    for payload in &payloads {
        assert_valid(&validator, payload);
    }
    let ann = &payloads[1];
    assert_eq!(ann["external_id"], "u1");
    assert_eq!(ann["email_address"], json!(["ann@example.com"]));
    assert_eq!(
        (&ann["first_name"], &ann["last_name"]),
        (&json!("Ann Marie"), &json!("Lee"))
    );
    assert_eq!(
        (&ann["password_digest"], &ann["password_hasher"]),
        (&json!(HASH), &json!("bcrypt"))
    );
    assert_eq!(ann["public_metadata"], json!({"role": "admin"}));
    assert!(ann["private_metadata"].get("role").is_none());
    assert_eq!(ann["created_at"], "2026-01-02T03:04:05.123Z");
    assert_eq!(payloads[0]["skip_password_requirement"], true);
    assert!(payloads[0].get("password_digest").is_none());
    let text = all_text(&rendered);
    assert!(!text.contains(TOTP) && !text.contains(API_KEY));
}

#[test]
fn the_csv_has_a_stable_header_every_user_and_no_secret() {
    let rendered = rendered(Format::Csv);
    assert_eq!(
        rendered.exported.len(),
        4,
        "the CSV takes users without email"
    );
    let mut reader = ::csv::Reader::from_reader(rendered.artefacts[0].contents.as_slice());
    let header: Vec<String> = reader
        .headers()
        .map(|header| header.iter().map(str::to_owned).collect())
        .unwrap_or_default();
    assert_eq!(
        header,
        [
            "id",
            "email",
            "full_name",
            "role",
            "disabled",
            "is_verified",
            "is_service",
            "app_id",
            "created_date",
            "updated_date",
            "_app_role",
            "salon_id",
            "tags"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|row| {
            row.map(|row| row.iter().map(str::to_owned).collect())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1][0], "u1");
    assert_eq!(rows[1][12], "[\"a\",\"b\"]");
    assert_eq!(rows[2][4], "true");
    let text = all_text(&rendered);
    for secret in [HASH, PHP_HASH, TOTP, API_KEY] {
        assert!(!text.contains(secret), "the CSV holds a secret");
    }
    assert_eq!(rendered.artefacts[0].carries, Carries::Nothing);
}

#[test]
fn the_postgres_table_keeps_token_digests_and_the_tokens_go_apart() {
    let rendered = rendered(Format::Postgres);
    assert_eq!(rendered.artefacts.len(), 2);
    let sql = String::from_utf8_lossy(&rendered.artefacts[0].contents).into_owned();
    let tokens = String::from_utf8_lossy(&rendered.artefacts[1].contents).into_owned();
    assert!(sql.contains("CREATE TABLE \"app\".\"users\""), "{sql}");
    assert!(sql.contains("COPY \"app\".\"users\" ("));
    assert!(sql.contains(&postgres::token_digest("token-of-u1")));
    assert!(
        !sql.contains("token-of-u1"),
        "no token in the clear in the SQL"
    );
    assert!(
        tokens.contains("u1,ann@example.com,token-of-u1"),
        "{tokens}"
    );
    assert!(sql.contains(HASH));
    assert!(!sql.contains(TOTP) && !sql.contains(API_KEY));
    assert_eq!(rendered.artefacts[1].carries, Carries::LoginTokens);
    assert!(sql.trim_end().ends_with("\\.\nCOMMIT;"));
}

#[test]
fn every_format_gives_the_same_bytes_for_the_same_users() {
    for format in Format::ALL {
        let first = rendered(format);
        let mut reversed_users = users();
        reversed_users.reverse();
        let ids: BTreeMap<String, String> = reversed_users
            .iter()
            .map(|user| (user.id.clone(), new_id(format, "app1", &user.id)))
            .collect();
        let tokens: BTreeMap<String, Secret> = reversed_users
            .iter()
            .map(|user| {
                (
                    user.id.clone(),
                    Secret::new(format!("token-of-{}", user.id)),
                )
            })
            .collect();
        let second = render(
            format,
            &reversed_users,
            &Rendering {
                ids: &ids,
                pg_schema: "app",
                login_tokens: &tokens,
            },
        );
        assert_eq!(first, second, "{format:?}");
    }
}
