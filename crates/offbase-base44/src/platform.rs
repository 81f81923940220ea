//! Entities the Base44 platform has in every app whether or not a schema file declares them.

use offbase_model::{App, Entity, SchemaSource, SourceLayout};

/// Adds the platform's `User` entity (built-in fields only) when the app declares none, so
/// users have a table and `*_id` fields naming users have a target. Returns the names added.
pub fn add_platform_entities(app: &mut App) -> Vec<String> {
    if app.entity("User").is_some() {
        return Vec::new();
    }
    app.entities.push(Entity {
        name: "User".to_owned(),
        source: SchemaSource {
            path: "(platform)".to_owned(),
            layout: SourceLayout::Platform,
        },
        title: None,
        description: Some("The platform's user entity: built-in fields only.".to_owned()),
        fields: Vec::new(),
        rls: None,
        extra: Default::default(),
    });
    app.entities
        .sort_by(|left, right| left.name.cmp(&right.name));
    vec!["User".to_owned()]
}
