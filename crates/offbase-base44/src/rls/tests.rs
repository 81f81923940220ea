use super::*;
use crate::schema::ParsedFile;
use offbase_model::{Entity, SourceLayout};
use serde_json::json;
use std::collections::BTreeMap;

type Outcome = Result<(), Box<dyn std::error::Error>>;

fn entity(schema: Value) -> Result<Entity, Box<dyn std::error::Error>> {
    match crate::parse_entity_file(&schema.to_string(), "test.jsonc", SourceLayout::Direct)? {
        ParsedFile::Entity(entity, _) => Ok(entity),
        ParsedFile::Skipped(warning) => Err(format!("skipped: {warning:?}").into()),
    }
}

fn record(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(record) => record,
        _ => Map::new(),
    }
}

fn user(id: &str, email: &str, role: &str, data: Value) -> User {
    User::new(id, email, role, record(data))
}

fn ann() -> User {
    user(
        "u-ann",
        "ann@example.com",
        "user",
        json!({"salon_id": "s1", "level": 3}),
    )
}

fn bob() -> User {
    user(
        "u-bob",
        "bob@example.com",
        "user",
        json!({"salon_id": "s2"}),
    )
}

fn admin() -> User {
    user("u-admin", "root@example.com", "admin", json!({}))
}

fn teacher() -> User {
    user("u-tea", "tea@example.com", "teacher", json!({}))
}

/// Whether the rule of `operation` lets each of anonymous, ann, bob, admin do it on `item`.
fn verdicts(
    rules: &EntityRules,
    operation: Operation,
    item: &Map<String, Value>,
    records: &dyn RecordSource,
    options: Options,
) -> Result<[bool; 4], RlsError> {
    let (ann, bob, admin) = (ann(), bob(), admin());
    let mut out = [false; 4];
    for (slot, who) in out
        .iter_mut()
        .zip([None, Some(&ann), Some(&bob), Some(&admin)])
    {
        *slot = allowed(rules, operation, who, item, records, options)?;
    }
    Ok(out)
}

fn rules_with(rls: Value) -> Result<EntityRules, Box<dyn std::error::Error>> {
    Ok(EntityRules::of(&entity(json!({
        "name": "Note",
        "properties": {"title": {"type": "string"}, "owner_email": {"type": "string"},
                       "party_emails": {"type": "array", "items": {"type": "string"}},
                       "salon_id": {"type": "string"}, "status": {"type": "string"}},
        "rls": rls,
    }))?))
}

fn note(created_by: &str, extra: Value) -> Map<String, Value> {
    let mut item = record(json!({
        "id": "n1", "created_date": "2026-01-01T00:00:00.000000",
        "created_by": created_by, "created_by_id": "x", "title": "t",
    }));
    item.extend(record(extra));
    item
}

#[test]
fn omitted_true_empty_and_null_are_open_to_everyone_and_false_to_no_one() -> Outcome {
    let item = note("ann@example.com", json!({}));
    for rls in [
        json!({}),
        json!({"read": true, "create": true, "update": {}, "delete": null}),
    ] {
        let rules = rules_with(rls)?;
        for operation in Operation::ALL {
            assert_eq!(
                verdicts(&rules, operation, &item, &NoRecords, Options::default())?,
                [true; 4],
                "{operation:?}"
            );
        }
    }
    let rules = rules_with(json!({"read": false, "write": false}))?;
    for operation in Operation::ALL {
        assert_eq!(
            verdicts(&rules, operation, &item, &NoRecords, Options::default())?,
            [false; 4]
        );
    }
    Ok(())
}

#[test]
fn write_covers_the_three_writes_and_a_specific_operation_wins() -> Outcome {
    let rules = rules_with(json!({"write": false, "update": true}))?;
    assert_eq!(rules.rule(Operation::Read), Rule::Open);
    assert_eq!(rules.rule(Operation::Create), Rule::Closed);
    assert_eq!(rules.rule(Operation::Update), Rule::Open);
    assert_eq!(rules.rule(Operation::Delete), Rule::Closed);
    Ok(())
}

#[test]
fn created_by_and_user_condition_with_anonymous_failing_what_needs_a_user() -> Outcome {
    let rules = rules_with(json!({"read": {"$or": [
        {"created_by": "{{user.email}}"},
        {"user_condition": {"role": "admin"}},
    ]}}))?;
    let item = note("ann@example.com", json!({}));
    let options = Options::default();
    // anonymous, ann, bob, admin
    assert_eq!(
        verdicts(&rules, Operation::Read, &item, &NoRecords, options)?,
        [false, true, false, true]
    );
    // A negation does not let an anonymous visitor through.
    let rules = rules_with(json!({"read": {"$nor": [{"created_by": "{{user.email}}"}]}}))?;
    assert_eq!(
        verdicts(&rules, Operation::Read, &item, &NoRecords, options)?,
        [false, false, true, true]
    );
    let rules = rules_with(json!({"read": {"user_condition": {"role": {"$ne": "admin"}}}}))?;
    assert_eq!(
        verdicts(&rules, Operation::Read, &item, &NoRecords, options)?,
        [false, true, true, false]
    );
    Ok(())
}

#[test]
fn custom_roles_ids_emails_and_user_data_in_user_condition() -> Outcome {
    let item = note("x@example.com", json!({}));
    let check = |condition: Value, who: &User| -> Result<bool, RlsError> {
        let rules = EntityRules::of(
            &entity(json!({
                "name": "Note", "properties": {}, "rls": {"read": {"user_condition": condition}}
            }))
            .map_err(|_| RlsError::InvalidQuery {
                reason: "schema".into(),
            })?,
        );
        allowed(
            &rules,
            Operation::Read,
            Some(who),
            &item,
            &NoRecords,
            Options::default(),
        )
    };
    assert!(check(json!({"role": "teacher"}), &teacher())?);
    assert!(!check(json!({"role": "teacher"}), &ann())?);
    assert!(check(json!({"email": "ann@example.com"}), &ann())?);
    assert!(check(json!({"id": "u-bob"}), &bob())?);
    assert!(check(json!({"data.salon_id": "s1"}), &ann())?);
    assert!(!check(json!({"data.salon_id": "s1"}), &bob())?);
    assert!(check(
        json!({"role": {"$in": ["teacher", "admin"]}}),
        &admin()
    )?);
    Ok(())
}

#[test]
fn data_fields_arrays_templates_and_operators() -> Outcome {
    let options = Options::default();
    let cases: Vec<(Value, Value, [bool; 4])> = vec![
        // An array field holds the user's email.
        (
            json!({"data.party_emails": "{{user.email}}"}),
            json!({"party_emails": ["bob@example.com", "zed@example.com"]}),
            [false, false, true, false],
        ),
        // A tenant key from the user's data.
        (
            json!({"data.salon_id": "{{user.data.salon_id}}"}),
            json!({"salon_id": "s1"}),
            [false, true, false, false],
        ),
        (
            json!({"created_by_id": "{{user.id}}"}),
            json!({"created_by_id": "u-bob"}),
            [false, false, true, false],
        ),
        (
            json!({"data.status": "{{user.role}}"}),
            json!({"status": "admin"}),
            [false, false, false, true],
        ),
        // A template inside longer text.
        (
            json!({"data.title": "note of {{user.email}}"}),
            json!({"title": "note of ann@example.com"}),
            [false, true, false, false],
        ),
        // Operators with no user in them: the same for everyone.
        (
            json!({"data.status": {"$in": ["active", "draft"]}}),
            json!({"status": "draft"}),
            [true; 4],
        ),
        (
            json!({"data.status": {"$nin": ["archived"]}}),
            json!({"status": "archived"}),
            [false; 4],
        ),
        (
            json!({"data.status": {"$ne": "archived"}}),
            json!({}),
            [true; 4],
        ),
        (
            json!({"data.party_emails": {"$all": ["a@x", "b@x"]}}),
            json!({"party_emails": ["b@x", "c@x", "a@x"]}),
            [true; 4],
        ),
        // Operators around a template.
        (
            json!({"data.owner_email": {"$ne": "{{user.email}}"}}),
            json!({"owner_email": "ann@example.com"}),
            [false, false, true, true],
        ),
        (
            json!({"$and": [{"data.status": "active"}, {"created_by": "{{user.email}}"}]}),
            json!({"status": "active"}),
            [false, true, false, false],
        ),
        (
            json!({"data.status": "active", "user_condition": {"role": "admin"}}),
            json!({"status": "active"}),
            [false, false, false, true],
        ),
    ];
    for (rule, fields, expected) in cases {
        let rules = rules_with(json!({"read": rule.clone()}))?;
        let item = note("ann@example.com", fields);
        assert_eq!(
            verdicts(&rules, Operation::Read, &item, &NoRecords, options)?,
            expected,
            "{rule}"
        );
    }
    Ok(())
}

#[test]
fn a_template_naming_a_missing_user_value_is_unknown() -> Outcome {
    let rules = rules_with(json!({"read": {"$nor": [{"data.salon_id": "{{user.data.region}}"}]}}))?;
    let item = note("x", json!({"salon_id": "s1"}));
    assert_eq!(
        verdicts(
            &rules,
            Operation::Read,
            &item,
            &NoRecords,
            Options::default()
        )?,
        [false; 4]
    );
    Ok(())
}

#[test]
fn bare_keys_are_literal_by_default_and_data_fields_on_request() -> Outcome {
    let rules = rules_with(json!({"read": {"owner_email": "{{user.email}}"}}))?;
    let item = note("x", json!({"owner_email": "ann@example.com"}));
    assert_eq!(
        verdicts(
            &rules,
            Operation::Read,
            &item,
            &NoRecords,
            Options::default()
        )?,
        [false; 4]
    );
    let data = Options {
        bare_keys: BareKeys::Data,
    };
    assert_eq!(
        verdicts(&rules, Operation::Read, &item, &NoRecords, data)?,
        [false, true, false, false]
    );
    // Read literally, a negation of a missing field holds for everyone (anonymous visitors
    // included when no user is needed).
    let rules = rules_with(json!({"read": {"status": {"$ne": "archived"}}}))?;
    let archived = note("x", json!({"status": "archived"}));
    assert_eq!(
        verdicts(
            &rules,
            Operation::Read,
            &archived,
            &NoRecords,
            Options::default()
        )?,
        [true; 4]
    );
    assert_eq!(
        verdicts(&rules, Operation::Read, &archived, &NoRecords, data)?,
        [false; 4]
    );
    // A bare built-in is the built-in either way.
    let rules = rules_with(json!({"read": {"created_by": "bob@example.com"}}))?;
    let item = note("bob@example.com", json!({}));
    assert_eq!(
        verdicts(
            &rules,
            Operation::Read,
            &item,
            &NoRecords,
            Options::default()
        )?,
        [true; 4]
    );
    Ok(())
}

fn staff() -> BTreeMap<String, Vec<Map<String, Value>>> {
    let mut records = BTreeMap::new();
    records.insert(
        "VendorStaff".to_owned(),
        vec![
            record(json!({"id": "vs1", "email": "ann@example.com", "vendor_id": "v1"})),
            record(json!({"id": "vs2", "email": "bob@example.com", "vendor_id": ["v2", "v3"]})),
            record(json!({"id": "vs3", "email": "ann@example.com", "vendor_id": null})),
        ],
    );
    records.insert(
        "Vendor".to_owned(),
        vec![
            record(json!({"id": "v1", "region_id": "r1"})),
            record(json!({"id": "v2", "region_id": "r2"})),
        ],
    );
    records
}

#[test]
fn sub_queries_select_values_of_other_entities_nested_two_levels() -> Outcome {
    let records = staff();
    let options = Options::default();
    let rules = rules_with(json!({"read": {"vendor_id": {"$in": [
        {"$query": {"entity": "VendorStaff", "filter": {"email": "{{user.email}}"}, "field": "vendor_id"}}
    ]}}}))?;
    let data = Options {
        bare_keys: BareKeys::Data,
    };
    for (vendor, expected) in [
        ("v1", [false, true, false, false]),
        ("v3", [false, false, true, false]),
        ("v9", [false; 4]),
    ] {
        let item = note("x", json!({"vendor_id": vendor}));
        assert_eq!(
            verdicts(&rules, Operation::Read, &item, &records, data)?,
            expected,
            "{vendor}"
        );
    }
    // Two levels: regions of the vendors the user works for, plus a literal value.
    let rules = rules_with(
        json!({"read": {"data.region_id": {"$in": ["r0", {"$query": {
            "entity": "Vendor", "field": "region_id",
            "filter": {"id": {"$in": [{"$query": {"entity": "VendorStaff",
                "filter": {"data.email": "{{user.email}}"}, "field": "data.vendor_id"}}]}}
        }}]}}}),
    )?;
    for (region, expected) in [
        ("r1", [false, true, false, false]),
        ("r2", [false, false, true, false]),
        ("r0", [true; 4]),
    ] {
        let item = note("x", json!({"region_id": region}));
        assert_eq!(
            verdicts(&rules, Operation::Read, &item, &records, options)?,
            expected,
            "{region}"
        );
    }
    // An unknown entity fails; so does nesting too deep.
    let rules = rules_with(json!({"read": {"data.x": {"$in": [
        {"$query": {"entity": "Nope", "field": "x"}}
    ]}}}))?;
    let item = note("x", json!({}));
    let outcome = allowed(
        &rules,
        Operation::Read,
        Some(&ann()),
        &item,
        &records,
        options,
    );
    assert!(
        matches!(outcome, Err(RlsError::UnknownEntity { .. })),
        "{outcome:?}"
    );
    let mut query = json!({"entity": "Vendor", "field": "id"});
    for _ in 0..MAX_QUERY_DEPTH {
        query = json!({"entity": "Vendor", "field": "id", "filter": {"id": {"$in": [{"$query": query}]}}});
    }
    let rules = rules_with(json!({"read": {"data.x": {"$in": [{"$query": query}]}}}))?;
    let outcome = allowed(
        &rules,
        Operation::Read,
        Some(&ann()),
        &item,
        &records,
        options,
    );
    assert!(
        matches!(outcome, Err(RlsError::TooDeep { .. })),
        "{outcome:?}"
    );
    Ok(())
}

#[test]
fn malformed_rules_are_errors() -> Outcome {
    let item = note("x", json!({}));
    for rule in [
        json!("public"),
        json!({"$where": "1"}),
        json!({"$or": []}),
        json!({"$or": {"a": 1}}),
        json!({"user_condition": "admin"}),
        json!({"data.x": {"$bogus": 1}}),
        json!({"data.x": {"$in": [{"$query": {"entity": "Vendor"}}]}}),
    ] {
        let rules = rules_with(json!({"read": rule.clone()}))?;
        let outcome = allowed(
            &rules,
            Operation::Read,
            Some(&ann()),
            &item,
            &staff(),
            Options::default(),
        );
        assert!(outcome.is_err(), "{rule}: {outcome:?}");
    }
    Ok(())
}

#[test]
fn the_user_entity_has_built_in_rules() -> Outcome {
    let rules = EntityRules::of(&entity(json!({
        "name": "User", "properties": {"salon_id": {"type": "string"}}
    }))?);
    let own = record(json!({"id": "u-ann", "email": "ann@example.com", "role": "user"}));
    let options = Options::default();
    // anonymous, ann, bob, admin
    assert_eq!(
        verdicts(&rules, Operation::Read, &own, &NoRecords, options)?,
        [false, true, false, true]
    );
    assert_eq!(
        verdicts(&rules, Operation::Update, &own, &NoRecords, options)?,
        [false, true, false, true]
    );
    assert_eq!(
        verdicts(&rules, Operation::Delete, &own, &NoRecords, options)?,
        [false, false, false, true]
    );
    assert_eq!(
        verdicts(&rules, Operation::Create, &own, &NoRecords, options)?,
        [false, false, false, true]
    );
    // Only admins set the protected built-ins; anyone may set their own fields.
    assert_ne!(rules.field_rule("role", Operation::Update), Rule::Open);
    assert_eq!(rules.field_rule("salon_id", Operation::Update), Rule::Open);
    assert_eq!(rules.field_rule("role", Operation::Read), Rule::Open);
    let guarded: Vec<&str> = rules
        .guarded_fields(Operation::Update)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        guarded,
        [
            "app_id",
            "disabled",
            "email",
            "is_service",
            "is_verified",
            "role"
        ]
    );
    // A schema's own rules replace the built-in ones for the operations they name.
    let rules = EntityRules::of(&entity(json!({
        "name": "User", "properties": {}, "rls": {"read": true}
    }))?);
    assert_eq!(rules.rule(Operation::Read), Rule::Open);
    assert_ne!(rules.rule(Operation::Delete), Rule::Open);
    Ok(())
}

#[test]
fn field_level_rules_come_from_the_properties() -> Outcome {
    let rules = EntityRules::of(&entity(json!({
        "name": "Order",
        "properties": {
            "total": {"type": "number"},
            "margin": {"type": "number", "rls": {"read": {"user_condition": {"role": "admin"}}, "write": false}},
            "odd": {"type": "number", "rls": true},
        },
    }))?);
    assert_eq!(rules.field_rule("total", Operation::Read), Rule::Open);
    assert_eq!(rules.field_rule("margin", Operation::Update), Rule::Closed);
    assert_eq!(rules.field_rule("odd", Operation::Update), Rule::Open);
    let item = record(json!({"id": "o1", "margin": 3}));
    let context = |who| Context {
        entity: "Order",
        user: who,
        records: &NoRecords,
        options: Options::default(),
    };
    let (ann, admin) = (ann(), admin());
    let check = Check::compile(
        rules.field_rule("margin", Operation::Read),
        &context(Some(&ann)),
    )?;
    assert_eq!(check.constant_outcome(), Some(Truth::False));
    let check = Check::compile(
        rules.field_rule("margin", Operation::Read),
        &context(Some(&admin)),
    )?;
    assert!(check.allows(&item));
    let check = Check::compile(rules.field_rule("margin", Operation::Read), &context(None))?;
    assert_eq!(check.evaluate(&item), Truth::Unknown);
    Ok(())
}

#[test]
fn users_from_records_keep_their_fields_as_data() {
    let person = User::from_record(record(json!({
        "id": "u1", "email": "a@x", "role": "teacher", "full_name": "A", "salon_id": "s"
    })));
    assert_eq!(person.id(), Some("u1"));
    assert_eq!(person.email(), Some("a@x"));
    assert_eq!(person.role(), Some("teacher"));
    assert_eq!(Value::Object(person.data()), json!({"salon_id": "s"}));
    assert_eq!(User::default().role(), None);
}

#[test]
fn unresolved_templates_make_the_whole_field_condition_unknown_and_empty_sub_queries_empty()
-> Outcome {
    let item = note("x", json!({"status": "x", "vendor_id": "v9"}));
    let rules = rules_with(json!({"read": {"data.status": {"$in": ["{{user.email}}", "x"]}}}))?;
    assert_eq!(
        verdicts(
            &rules,
            Operation::Read,
            &item,
            &NoRecords,
            Options::default()
        )?,
        [false, true, true, true]
    );
    // A sub-query needing a user selects nothing for an anonymous visitor: `$nin` it holds.
    let rules = rules_with(json!({"read": {"data.vendor_id": {"$nin": [{"$query": {
        "entity": "VendorStaff", "filter": {"email": "{{user.email}}"}, "field": "vendor_id"}}]}}}))?;
    assert_eq!(
        verdicts(&rules, Operation::Read, &item, &staff(), Options::default())?,
        [true; 4]
    );
    let ann_vendor = note("x", json!({"vendor_id": "v1"}));
    assert_eq!(
        verdicts(
            &rules,
            Operation::Read,
            &ann_vendor,
            &staff(),
            Options::default()
        )?,
        [true, false, true, true]
    );
    Ok(())
}
