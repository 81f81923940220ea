//! The keys a reader kept in `extra` because it does not interpret them, written back after
//! the interpreted ones ([`extend_missing`]). A leaf shared by `writeback` (entities and
//! fields) and `rls` (access rules).

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Adds the kept keys that are not already written: an interpreted key wins over its stale copy.
pub(super) fn extend_missing(object: &mut Map<String, Value>, extra: &BTreeMap<String, Value>) {
    for (key, value) in extra {
        if !object.contains_key(key) {
            object.insert(key.clone(), value.clone());
        }
    }
}
