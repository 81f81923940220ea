//! The name registry: hands out table, type, index and constraint names that are unique in one
//! PostgreSQL schema, fit in 63 bytes, and come out the same for the same input.

use offbase_model::names::with_suffix;
use std::collections::BTreeSet;

#[derive(Debug, Default)]
pub(crate) struct NameRegistry {
    taken: BTreeSet<String>,
}

impl NameRegistry {
    /// Claims `desired` (shortened to fit), or the first free `desired_2`, `desired_3`, ...
    pub(crate) fn claim(&mut self, desired: &str) -> String {
        self.claim_with_suffix(desired, "")
    }

    /// Claims `base` + `suffix`, keeping the suffix visible when the name must be shortened.
    pub(crate) fn claim_with_suffix(&mut self, base: &str, suffix: &str) -> String {
        let first = with_suffix(base, suffix);
        if self.taken.insert(first.clone()) {
            return first;
        }
        let mut counter = 2;
        loop {
            let candidate = with_suffix(base, &format!("{suffix}_{counter}"));
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
            counter += 1;
        }
    }
}
