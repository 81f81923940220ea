//! The planner on hand-built IR: each rule of the default mapping and each override, checked
//! on the target model and its notes, without any file or database.

use offbase_model::{
    App, ColumnSource, Confidence, Entity, Field, FieldKind, MappingRules, NoteLevel, PgType,
    SchemaSource, SourceLayout, TargetSchema,
};
use offbase_sql::{PlanError, plan, render};
use serde_json::{Value, json};

fn field(name: &str, kind: FieldKind) -> Field {
    Field::new(name, kind)
}

fn with(mut field: Field, edit: impl FnOnce(&mut Field)) -> Field {
    edit(&mut field);
    field
}

fn entity(name: &str, fields: Vec<Field>) -> Entity {
    Entity {
        name: name.to_owned(),
        source: SchemaSource {
            path: format!("base44/entities/{name}.jsonc"),
            layout: SourceLayout::Base44Entities,
        },
        title: None,
        description: None,
        fields,
        rls: None,
        extra: Default::default(),
    }
}

fn app(entities: Vec<Entity>) -> App {
    App {
        name: "test".to_owned(),
        app_id: None,
        entities,
    }
}

fn rules(mapping: &str) -> MappingRules {
    let mut rules = match MappingRules::defaults() {
        Ok(rules) => rules,
        Err(error) => panic!("{error}"),
    };
    if let Err(error) = rules.merge(mapping, "test.toml") {
        panic!("{error}");
    }
    rules
}

fn planned(app: &App, mapping: &str) -> TargetSchema {
    match plan(app, &rules(mapping)) {
        Ok(schema) => schema,
        Err(error) => panic!("{error}"),
    }
}

fn notes(schema: &TargetSchema, level: NoteLevel) -> String {
    schema
        .notes
        .iter()
        .filter(|note| note.level == level)
        .map(|note| format!("{:?}.{:?}: {}", note.entity, note.field, note.message))
        .collect::<Vec<_>>()
        .join("\n")
}

fn column_type(schema: &TargetSchema, entity: &str, field: &str) -> Option<String> {
    schema
        .table_for_entity(entity)?
        .column_for_field(field)
        .map(|column| column.pg_type.short())
}

#[test]
fn default_types_follow_the_design_table() {
    let string = |format: &str| {
        with(field(format, FieldKind::String), |f| {
            f.format = Some(format.into())
        })
    };
    let scalar_array = |name: &str, kind: FieldKind| {
        with(field(name, FieldKind::Array), |f| {
            f.items = Some(Box::new(field("x", kind)))
        })
    };
    let schema = planned(
        &app(vec![entity(
            "Thing",
            vec![
                field("text", FieldKind::String),
                string("date-time"),
                string("date"),
                string("time"),
                string("email"),
                string("uri"),
                field("count", FieldKind::Integer),
                field("amount", FieldKind::Number),
                field("flag", FieldKind::Boolean),
                field("object", FieldKind::Object),
                field("free", FieldKind::Any),
                scalar_array("tags", FieldKind::String),
                scalar_array("scores", FieldKind::Integer),
                scalar_array("rows", FieldKind::Object),
                field("untyped_array", FieldKind::Array),
                field(
                    "union",
                    FieldKind::Union(vec!["number".into(), "string".into()]),
                ),
            ],
        )]),
        "",
    );
    let expected = [
        ("text", "text"),
        ("date-time", "timestamptz"),
        ("date", "date"),
        ("time", "time"),
        ("email", "text"),
        ("uri", "text"),
        ("count", "bigint"),
        ("amount", "double precision"),
        ("flag", "boolean"),
        ("object", "jsonb"),
        ("free", "jsonb"),
        ("tags", "text[]"),
        ("scores", "bigint[]"),
        ("rows", "jsonb"),
        ("untyped_array", "jsonb"),
        ("union", "jsonb"),
    ];
    for (name, pg_type) in expected {
        assert_eq!(
            column_type(&schema, "Thing", name).as_deref(),
            Some(pg_type),
            "{name}"
        );
    }
    let table = schema.table_for_entity("Thing");
    let first: Vec<&str> = table
        .map(|table| {
            table
                .columns
                .iter()
                .take(6)
                .map(|c| c.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        first,
        [
            "id",
            "created_date",
            "updated_date",
            "created_by",
            "created_by_id",
            "is_sample"
        ]
    );
    assert_eq!(
        table
            .and_then(|t| t.columns.last())
            .map(|c| c.source.clone()),
        Some(ColumnSource::Extra)
    );
}

#[test]
fn a_built_in_re_declared_with_another_type_stays_one_column_with_a_warning() {
    let schema = planned(
        &app(vec![entity(
            "Task",
            vec![field("created_date", FieldKind::Integer)],
        )]),
        "",
    );
    let table = schema.table_for_entity("Task");
    let count = table
        .map(|table| {
            table
                .columns
                .iter()
                .filter(|c| c.name.starts_with("created_date"))
                .count()
        })
        .unwrap_or_default();
    assert_eq!(count, 1);
    assert_eq!(
        column_type(&schema, "Task", "created_date").as_deref(),
        Some("timestamptz")
    );
    let warnings = notes(&schema, NoteLevel::Warning);
    assert!(
        warnings.contains("re-declares the built-in created_date as integer"),
        "{warnings}"
    );
}

#[test]
fn defaults_that_do_not_fit_are_dropped_with_a_warning() {
    let schema = planned(
        &app(vec![entity(
            "Task",
            vec![
                with(field("due", FieldKind::String), |f| {
                    f.format = Some("date-time".into());
                    f.default = Some(json!("now"));
                }),
                with(field("count", FieldKind::Integer), |f| {
                    f.default = Some(json!(1.5))
                }),
                with(field("status", FieldKind::String), |f| {
                    f.enum_values = Some(vec![json!("a"), json!("b")]);
                    f.default = Some(json!("c"));
                }),
                with(field("ok", FieldKind::Integer), |f| {
                    f.default = Some(json!(3))
                }),
                with(field("meta", FieldKind::Object), |f| {
                    f.default = Some(json!({"k": [1]}))
                }),
            ],
        )]),
        "",
    );
    let table = schema.table_for_entity("Task");
    let default = |name: &str| {
        table
            .and_then(|t| t.column_for_field(name))
            .and_then(|c| c.default.clone())
    };
    assert_eq!(default("due"), None);
    assert_eq!(default("count"), None);
    assert_eq!(default("status"), None);
    assert_eq!(default("ok"), Some(json!(3)));
    assert_eq!(default("meta"), Some(json!({"k": [1]})));
    let warnings = notes(&schema, NoteLevel::Warning);
    for expected in [
        "\"now\" is not an ISO 8601 timestamp",
        "1.5 is not an integer",
        "not one of the enum values",
    ] {
        assert!(
            warnings.contains(expected),
            "{expected} missing from:\n{warnings}"
        );
    }
    let sql = render(&schema).to_file(&schema);
    assert!(sql.contains(r#"DEFAULT ('{"k":[1]}'::jsonb)"#), "{sql}");
}

#[test]
fn references_are_inferred_with_a_confidence() {
    let text = |name: &str| field(name, FieldKind::String);
    let schema = planned(
        &app(vec![
            entity("Project", vec![]),
            entity("Category", vec![]),
            entity(
                "Task",
                vec![
                    text("project_id"),
                    text("categoriesId"),
                    with(text("lead_id"), |f| {
                        f.description = Some("Reference to Project.id".into())
                    }),
                    with(text("note"), |f| {
                        f.description = Some("Copied from Project.id".into())
                    }),
                    text("parent_project_id"),
                    text("stripe_customer_id"),
                    field("projectId", FieldKind::Integer),
                    with(field("category_ids", FieldKind::Array), |f| {
                        f.items = Some(Box::new(text("x")))
                    }),
                ],
            ),
        ]),
        "",
    );
    let keys: Vec<(String, String, Confidence)> = schema
        .foreign_keys
        .iter()
        .map(|key| (key.field.clone(), key.target_entity.clone(), key.confidence))
        .collect();
    assert_eq!(
        keys,
        [
            ("project_id".into(), "Project".into(), Confidence::High),
            ("categoriesId".into(), "Category".into(), Confidence::Medium),
            ("lead_id".into(), "Project".into(), Confidence::Medium),
        ]
    );
    assert_eq!(schema.array_references.len(), 1);
    assert_eq!(schema.array_references[0].target_entity, "Category");
    let decisions = notes(&schema, NoteLevel::Decision);
    assert!(
        decisions.contains("\"parent_project_id\"): may reference Project.id"),
        "{decisions}"
    );
    assert!(
        decisions.contains("stored as bigint: no foreign key"),
        "{decisions}"
    );
    assert!(!decisions.contains("stripe_customer_id"), "{decisions}");
    let indexed: Vec<&str> = schema
        .indexes
        .iter()
        .map(|index| index.name.as_str())
        .collect();
    assert!(indexed.contains(&"task_project_id_idx"), "{indexed:?}");
}

#[test]
fn mapping_overrides_rename_retype_skip_and_declare() {
    let schema = planned(
        &app(vec![
            entity("Customer", vec![]),
            entity(
                "Order",
                vec![
                    field("total", FieldKind::Number),
                    field("buyer", FieldKind::String),
                    field("customer_id", FieldKind::String),
                    field("legacy", FieldKind::String),
                    with(field("note", FieldKind::String), |f| f.required = true),
                ],
            ),
            entity("Audit", vec![]),
        ]),
        r#"
        [entities.Order]
        table = "orders"
        [entities.Order.fields.total]
        type = "numeric(12,2)"
        column = "total_amount"
        [entities.Order.fields.buyer]
        references = "Customer"
        [entities.Order.fields.customer_id]
        references = false
        [entities.Order.fields.legacy]
        skip = true
        [entities.Order.fields.note]
        not_null = false
        [entities.Audit]
        skip = true
        "#,
    );
    let table = schema.table_for_entity("Order");
    assert_eq!(table.map(|t| t.name.as_str()), Some("orders"));
    let total = table.and_then(|t| t.column_for_field("total"));
    assert_eq!(total.map(|c| c.name.as_str()), Some("total_amount"));
    assert_eq!(
        total.map(|c| c.pg_type.clone()),
        Some(PgType::Numeric(Some((12, 2))))
    );
    assert!(table.and_then(|t| t.column_for_field("legacy")).is_none());
    assert_eq!(
        table
            .and_then(|t| t.column_for_field("note"))
            .map(|c| c.not_null),
        Some(false)
    );
    assert!(schema.table_for_entity("Audit").is_none());
    let keys: Vec<(&str, Confidence)> = schema
        .foreign_keys
        .iter()
        .map(|key| (key.field.as_str(), key.confidence))
        .collect();
    assert_eq!(keys, [("buyer", Confidence::Declared)]);
    let decisions = notes(&schema, NoteLevel::Decision);
    for expected in [
        "table named \"orders\" by the mapping file",
        "type numeric(12,2) set by the mapping file",
        "foreign key suppressed by the mapping file",
        "skipped by the mapping file",
        "NOT NULL dropped by the mapping file",
    ] {
        assert!(
            decisions.contains(expected),
            "{expected} missing from:\n{decisions}"
        );
    }
}

#[test]
fn pg_enum_needs_labels_postgres_accepts() {
    let long = "x".repeat(64);
    let schema = planned(
        &app(vec![entity(
            "Task",
            vec![
                with(field("short", FieldKind::String), |f| {
                    f.enum_values = Some(vec![json!("a")])
                }),
                with(field("long", FieldKind::String), |f| {
                    f.enum_values = Some(vec![json!(long)])
                }),
                with(field("number", FieldKind::Integer), |f| {
                    f.enum_values = Some(vec![json!(1)])
                }),
            ],
        )]),
        "[options]\nenum_strategy = \"pg_enum\"\n",
    );
    let names: Vec<&str> = schema.enum_types.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["task_short_enum"]);
    let table = schema.table_for_entity("Task");
    let check = |name: &str| {
        table
            .and_then(|t| t.column_for_field(name))
            .and_then(|c| c.check.clone())
    };
    assert!(check("short").is_none());
    assert!(check("long").is_some());
    assert_eq!(
        check("number").map(|c| c.allowed),
        Some(vec![Value::from(1)])
    );
}

#[test]
fn mapping_errors_name_the_entity_and_field() {
    let application = app(vec![entity(
        "Order",
        vec![field("total", FieldKind::Number)],
    )]);
    let error = |mapping: &str| match plan(&application, &rules(mapping)) {
        Ok(_) => panic!("{mapping} was accepted"),
        Err(error) => error,
    };
    assert!(matches!(
        error("[entities.Ordr]\n"),
        PlanError::UnknownEntity { .. }
    ));
    assert!(matches!(
        error("[entities.Order.fields.totl]\nskip = true\n"),
        PlanError::UnknownField { .. }
    ));
    assert!(matches!(
        error("[entities.Order.fields.total]\ncolumn = \"xmin\"\n"),
        PlanError::InvalidOverride { .. }
    ));
    assert!(matches!(
        error("[entities.Order.fields.total]\nreferences = \"Customer\"\n"),
        PlanError::UnknownReference { .. }
    ));
    assert!(matches!(
        error("[entities.Order.fields.total]\ncolumn = \"_extra\"\n"),
        PlanError::NameClash { .. }
    ));
}

#[test]
fn pg_enum_array_default_outside_the_enum_is_dropped() {
    // Regression: `DEFAULT ARRAY['z']::"t_tags_enum"[]` made PostgreSQL refuse the whole plan.
    let tags = with(field("tags", FieldKind::Array), |f| {
        f.items = Some(Box::new(with(field("x", FieldKind::String), |item| {
            item.enum_values = Some(vec![json!("a"), json!("b")]);
        })));
        f.default = Some(json!(["z"]));
    });
    let schema = planned(
        &app(vec![entity("Post", vec![tags])]),
        "[options]\nenum_strategy = \"pg_enum\"\n",
    );
    let column = schema
        .table_for_entity("Post")
        .and_then(|t| t.column_for_field("tags"));
    assert_eq!(
        column.map(|c| c.pg_type.short()),
        Some("enum post_tags_enum[]".to_owned())
    );
    assert_eq!(column.and_then(|c| c.default.clone()), None);
    let warnings = notes(&schema, NoteLevel::Warning);
    assert!(
        warnings.contains("not one of the enum values"),
        "{warnings}"
    );
}

#[test]
fn built_in_columns_refuse_renames_skips_and_references() {
    let application = app(vec![entity(
        "Task",
        vec![field("created_by", FieldKind::String)],
    )]);
    for mapping in [
        "[entities.Task.fields.created_by]\ncolumn = \"author\"\n",
        "[entities.Task.fields.created_by]\nskip = true\n",
        "[entities.Task.fields.created_by]\ntype = \"uuid\"\n",
        "[entities.Task.fields.created_by]\nreferences = \"Task\"\n",
    ] {
        assert!(
            matches!(
                plan(&application, &rules(mapping)),
                Err(PlanError::InvalidOverride { .. })
            ),
            "{mapping} was accepted"
        );
    }
    let schema = planned(
        &application,
        "[entities.Task.fields.created_by]\nnot_null = true\n",
    );
    let column = schema
        .table_for_entity("Task")
        .and_then(|t| t.column("created_by"));
    assert_eq!(column.map(|c| c.not_null), Some(true));
}

#[test]
fn references_true_infers_even_when_inference_is_off() {
    let application = app(vec![
        entity("Project", vec![]),
        entity(
            "Task",
            vec![
                field("project_id", FieldKind::String),
                field("owner", FieldKind::String),
            ],
        ),
    ]);
    let off = "[options]\ninfer_foreign_keys = false\n";
    assert!(planned(&application, off).foreign_keys.is_empty());
    let forced = planned(
        &application,
        &format!(
            "{off}[entities.Task.fields.project_id]\nreferences = true\n[entities.Task.fields.owner]\nreferences = true\n"
        ),
    );
    let keys: Vec<&str> = forced
        .foreign_keys
        .iter()
        .map(|key| key.field.as_str())
        .collect();
    assert_eq!(keys, ["project_id"]);
    let warnings = notes(&forced, NoteLevel::Warning);
    assert!(
        warnings.contains("references = true, but neither the name"),
        "{warnings}"
    );
}

#[test]
fn a_column_added_after_the_table_keeps_its_check_but_not_its_not_null() {
    let schema = planned(
        &app(vec![entity(
            "Task",
            vec![with(field("stage", FieldKind::String), |f| {
                f.required = true;
                f.enum_values = Some(vec![json!("new"), json!("done")]);
            })],
        )]),
        "",
    );
    let Some(table) = schema.table_for_entity("Task") else {
        panic!("no table");
    };
    let Some(column) = table.column_for_field("stage") else {
        panic!("no column");
    };
    assert!(
        column.not_null,
        "required fields are NOT NULL in a new table"
    );
    assert_eq!(
        offbase_sql::add_column(table, column),
        r#"ALTER TABLE "task" ADD COLUMN IF NOT EXISTS "stage" text CONSTRAINT "task_stage_check" CHECK ("stage" IN ('new', 'done'))"#
    );
}

/// Regression: with fields `xmin` and `xmin_2`, the declared `xmin_2` became `xmin_2_2`: the
/// system column `xmin`, renamed to `xmin_2`, claimed first. A field already spelled as a
/// usable column keeps its name, in either order.
#[test]
fn a_field_spelled_as_its_column_keeps_it_before_a_renamed_system_column() {
    for order in [["xmin", "xmin_2"], ["xmin_2", "xmin"]] {
        let fields = order
            .iter()
            .map(|name| field(name, FieldKind::String))
            .collect();
        let schema = planned(&app(vec![entity("Job", fields)]), "");
        let column = |name: &str| {
            schema
                .table_for_entity("Job")
                .and_then(|table| table.column_for_field(name))
                .map(|column| column.name.clone())
        };
        assert_eq!(column("xmin_2").as_deref(), Some("xmin_2"), "{order:?}");
        assert_eq!(column("xmin").as_deref(), Some("xmin_3"), "{order:?}");
        let notes = notes(&schema, NoteLevel::Decision);
        assert!(
            notes.contains("column renamed to \"xmin_3\": \"xmin\" is a PostgreSQL system column"),
            "{notes}"
        );
    }
}
