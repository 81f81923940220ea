//! Reference inference: which `*_id` / `*Id` fields (and `*_ids` arrays) name another entity.
//! Base44 has no relation syntax, so a reference is a naming convention; this module decides
//! how sure we are.

use offbase_model::Confidence;
use std::collections::BTreeMap;

/// Whether a field looks like one reference or a list of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    One,
    Many,
}

/// Splits `project_id` → (`project`, One), `memberIds` → (`member`, Many).
pub fn reference_stem(field: &str) -> Option<(&str, Shape)> {
    const MANY: [&str; 5] = ["_ids", "_IDs", "_IDS", "Ids", "IDs"];
    const ONE: [&str; 4] = ["_id", "_ID", "Id", "ID"];
    let (stem, shape) = MANY
        .iter()
        .find_map(|suffix| field.strip_suffix(suffix).map(|stem| (stem, Shape::Many)))
        .or_else(|| {
            ONE.iter()
                .find_map(|suffix| field.strip_suffix(suffix).map(|stem| (stem, Shape::One)))
        })?;
    // `Id` and `ID` suffixes only count after a lowercase letter or digit (`projectId`), so
    // `paid`, `valid`, `VOID` stay plain fields.
    let camel = !field[stem.len()..].starts_with('_');
    let boundary_ok = !camel
        || stem
            .chars()
            .last()
            .is_some_and(|last| last.is_lowercase() || last.is_ascii_digit());
    let stem = stem.trim_end_matches('_');
    (boundary_ok && !stem.is_empty()).then_some((stem, shape))
}

fn normalize(name: &str) -> String {
    name.chars()
        .filter(|character| character.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Entity names by their normalized spelling, for matching stems.
#[derive(Debug)]
pub(crate) struct EntityIndex {
    by_key: BTreeMap<String, String>,
}

impl EntityIndex {
    pub(crate) fn new<'a>(entities: impl IntoIterator<Item = &'a str>) -> Self {
        let mut by_key = BTreeMap::new();
        for entity in entities {
            // The first entity in name order wins a normalized clash (`Task` and `task`).
            by_key
                .entry(normalize(entity))
                .or_insert_with(|| entity.to_owned());
        }
        EntityIndex { by_key }
    }

    /// The entity names, in name order.
    pub(crate) fn entities(&self) -> impl Iterator<Item = &str> {
        self.by_key.values().map(String::as_str)
    }

    /// The entity a stem names, and how sure the match is.
    pub(crate) fn resolve(&self, stem: &str) -> Option<(&str, Confidence)> {
        let key = normalize(stem);
        if let Some(entity) = self.by_key.get(&key) {
            return Some((entity, Confidence::High));
        }
        let mut variants = vec![format!("{key}s"), format!("{key}es")];
        if let Some(base) = key.strip_suffix("ies") {
            variants.push(format!("{base}y"));
        }
        if let Some(base) = key.strip_suffix('y') {
            variants.push(format!("{base}ies"));
        }
        if let Some(base) = key.strip_suffix("es") {
            variants.push(base.to_owned());
        }
        if let Some(base) = key.strip_suffix('s') {
            variants.push(base.to_owned());
        }
        variants
            .iter()
            .find_map(|variant| self.by_key.get(variant))
            .map(|entity| (entity.as_str(), Confidence::Medium))
    }

    /// An entity whose name ends the stem (`parent_task` → Task): a possible reference that is
    /// too uncertain to enforce (`stripe_customer` is not a Customer).
    pub(crate) fn resolve_suffix(&self, stem: &str) -> Option<&str> {
        let key = normalize(stem);
        self.by_key
            .iter()
            .filter(|(entity_key, _)| {
                key.len() > entity_key.len() && key.ends_with(entity_key.as_str())
            })
            .max_by_key(|(entity_key, _)| entity_key.len())
            .map(|(_, entity)| entity.as_str())
    }
}

/// The one entity a description points at with `Entity.id` ("Reference to Project.id").
pub(crate) fn described_target<'a>(
    description: &str,
    entities: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut found = entities.into_iter().filter(|entity| {
        let needle = format!("{entity}.id");
        description.match_indices(&needle).any(|(start, _)| {
            let before = description[..start].chars().next_back();
            let after = description[start + needle.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_of_reference_like_names() {
        assert_eq!(reference_stem("project_id"), Some(("project", Shape::One)));
        assert_eq!(reference_stem("projectId"), Some(("project", Shape::One)));
        assert_eq!(reference_stem("projectID"), Some(("project", Shape::One)));
        assert_eq!(reference_stem("member_ids"), Some(("member", Shape::Many)));
        assert_eq!(reference_stem("lootIds"), Some(("loot", Shape::Many)));
        assert_eq!(reference_stem("paid"), None);
        assert_eq!(reference_stem("VOID"), None);
        assert_eq!(reference_stem("id"), None);
        assert_eq!(reference_stem("_id"), None);
    }

    #[test]
    fn stems_match_entities_exactly_or_by_plural() {
        let index = EntityIndex::new(["Project", "OrderItem", "Category", "Person"]);
        assert_eq!(
            index.resolve("project"),
            Some(("Project", Confidence::High))
        );
        assert_eq!(
            index.resolve("order_item"),
            Some(("OrderItem", Confidence::High))
        );
        assert_eq!(
            index.resolve("projects"),
            Some(("Project", Confidence::Medium))
        );
        assert_eq!(
            index.resolve("categories"),
            Some(("Category", Confidence::Medium))
        );
        assert_eq!(index.resolve("customer"), None);
        assert_eq!(index.resolve_suffix("parent_project"), Some("Project"));
        assert_eq!(index.resolve_suffix("project"), None);
    }

    #[test]
    fn descriptions_that_name_one_entity_id() {
        let entities = ["Task", "Project"];
        assert_eq!(
            described_target("Reference to Task.id (sub-task)", entities),
            Some("Task")
        );
        assert_eq!(described_target("Task.identifier", entities), None);
        assert_eq!(described_target("Task.id or Project.id", entities), None);
        assert_eq!(described_target("SubTask.id", entities), None);
    }
}
