//! Access rules (`rls`) evaluated in memory: given an entity's rules, an operation, the user (or
//! an anonymous visitor) and a record, whether the platform lets the operation happen. The
//! emulator enforces rules with it, so a translation of the rules (PostgreSQL row security) can
//! be tested against the same answers. Pure: other entities' records (for `$query`) come
//! through a [`RecordSource`] the caller provides.
//!
//! Where each part lives: choosing the rule of an operation, the platform's built-in `User`
//! rules and field-level rules in `rules` ([`EntityRules`], [`Rule`], [`Operation`]); the user
//! and how condition keys and templates name fields in `user` ([`User`], [`BareKeys`]);
//! compiling a rule for one user and evaluating it on records in `check` ([`Check`],
//! [`Truth`], [`Context`], [`RlsError`]).
//!
//! # Semantics (the documented ones)
//! - An operation is `read`, `create`, `update` or `delete`; `write` stands for the three
//!   writes. An omitted operation, `true`, `{}` and `null` are open to everyone, anonymous
//!   visitors included; `false` is closed to everyone.
//! - A condition object matches records: every key of an object must hold (`$and`, `$or`,
//!   `$nor` combine lists of objects). `created_by`, `created_by_id`, `id` and the other
//!   built-ins name the record's built-in fields; `data.<field>` names a field of the schema
//!   (on an array field, equality means "the array holds an element equal to"). Field
//!   operators are those of the query language (`$in`, `$nin`, `$ne`, `$all`, and the rest of
//!   [`crate::query`], which evaluates them).
//! - `user_condition` tests only the user: its keys (`role`, `email`, `id`, `data.<field>`) name
//!   the user's fields, compared like a field condition.
//! - Templates in values: `{{user.id}}`, `{{user.email}}`, `{{user.role}}`,
//!   `{{user.data.<field>}}` (any built-in of the user record, e.g. `{{user.full_name}}`, too).
//!   A value that is one template takes the user's value as it is (a number stays a number);
//!   a template inside longer text is replaced by the value's text.
//! - `{"$in": [{"$query": {"entity": E, "filter": F, "field": X}}]}`: the values of `X` in the
//!   records of `E` matching `F` (an array value gives its elements), next to any literal
//!   values of the list; also inside `$nin`. Sub-queries nest up to [`MAX_QUERY_DEPTH`] levels.
//!
//! # Decisions where the platform is unknown
//! - **Three-valued logic.** A condition that needs a user (a template, `user_condition`) is
//!   *unknown* for an anonymous visitor, and so is a template naming a field the user lacks or
//!   holds `null` in. Unknown stays unknown through `$nor` (`NOT unknown` is unknown), `$and`
//!   and `$or` follow Kleene's rules, and only a condition that is *true* allows. So anonymous
//!   visitors fail every condition that needs a user, even a negated one, which is what
//!   PostgreSQL gives a policy comparing with an unset session setting (`NULL`). A field
//!   condition whose operand holds a template without a value is unknown as a whole (even
//!   `{"$in": ["{{user.email}}", "x"]}` on a record holding `x`). A `$query` whose filter needs
//!   a user selects nothing for an anonymous visitor (so `$in` it is false, `$nin` it true, as
//!   `IN` / `NOT IN` an empty sub-query in SQL).
//! - **Bare keys** (`{"sender_email": ...}`, no `data.`): [`BareKeys::Literal`] (the default)
//!   reads them at the top level of the record as the platform stores it, where only the
//!   built-ins live: a bare key naming a schema field is a missing field (`{"f": v}` never
//!   matches, `{"f": {"$ne": v}}` always does). [`BareKeys::Data`] reads them as
//!   `data.<field>`. A bare key naming a built-in (`created_by`, `id`; on `User` also `email`,
//!   `role`, ...) is the built-in either way. The same choice applies to `{{user.<field>}}` and
//!   to `user_condition` keys.
//! - **`$query` sub-queries** read every live record of their entity, ignoring that entity's
//!   own rules (what a `SECURITY DEFINER` function does in PostgreSQL), and their `filter` and
//!   `field` name fields as the API does (bare names are the schema's fields; `data.` is
//!   accepted too). An unknown entity is an error.
//! - **Admins do not bypass** entity rules: an admin passes a rule only through a branch such as
//!   `{"user_condition": {"role": "admin"}}` (931 explicit admin branches in real apps suggest
//!   the platform works so). Only the service role (the API key) bypasses rules, and that is the
//!   caller's business: this module has no notion of it.
//! - **`write` and a specific operation**: when both are given, the specific one wins.
//! - **A malformed rule** (a string, an unknown top-level operator, a bad operand) is an
//!   [`RlsError`]; a caller enforcing rules must then deny (fail closed).
//! - **The built-in `User` rules**: a signed-in user reads and updates their own record; only
//!   admins read, update or delete the others, and only admins create users through the entity
//!   API (sign-up is not an entity create). Non-admins may not change the user built-ins
//!   `role`, `email`, `disabled`, `is_verified`, `app_id`, `is_service` (built-in field rules),
//!   so a user cannot make themselves an admin. A `User` schema's own `rls` replaces these per
//!   operation it names (and its fields' own rules replace the built-in field rules).
//! - **Field-level rules** (`"rls"` inside a top-level property, same shape): a field whose
//!   `read` rule does not hold for a record is left out of the answer; a create or update that
//!   sets a field (an update: to a value other than the stored one) whose `create` / `update`
//!   rule does not hold for the new record is refused. A non-object field `rls` is ignored, as
//!   are rules inside nested properties.
//! - **Missing user values**: a user record without `role` has no role (no default `user`).
//!
//! Which record a caller checks for an update (the stored one, the new one or both) and what an
//! API answers for a denial are the caller's decisions; the emulator checks both records.

mod check;
mod rules;
mod user;

#[cfg(test)]
mod tests;

pub use check::{Check, Context, MAX_QUERY_DEPTH, NoRecords, RecordSource, RlsError, Truth};
pub use rules::{EntityRules, Operation, Rule, USER_PROTECTED_FIELDS, rule_of};
pub use user::{BareKeys, Options, User};

use serde_json::{Map, Value};

/// Whether `operation` on `record` is allowed to `user` (`None`: an anonymous visitor) under
/// `rules`, with sub-queries reading `records`. The service role bypasses rules: do not call
/// this for it.
pub fn allowed(
    rules: &EntityRules,
    operation: Operation,
    user: Option<&User>,
    record: &Map<String, Value>,
    records: &dyn RecordSource,
    options: Options,
) -> Result<bool, RlsError> {
    let context = Context {
        entity: rules.entity(),
        user,
        records,
        options,
    };
    Ok(Check::compile(rules.rule(operation), &context)?.allows(record))
}
