//! The query AST: a parsed filter ([`Filter`], [`Condition`], [`Operator`]), a parsed sort
//! ([`Sort`], written back as the parameter text by its `Display`), and why a query or sort
//! could not be parsed ([`QueryError`]). Data only: parsing is in `parse`, matching in
//! `evaluate`.

use serde_json::Value;
use std::fmt;

/// A parsed filter `q`: the AST, evaluated by [`Filter::matches`].
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every filter matches (`$and`, or several keys in one object). Empty: matches everything.
    And(Vec<Filter>),
    /// At least one filter matches (`$or`).
    Or(Vec<Filter>),
    /// No filter matches (`$nor`).
    Nor(Vec<Filter>),
    /// A condition on one field.
    Field {
        /// Field name, possibly dotted (`address.city`) to reach into nested objects.
        path: String,
        /// What the field's value must satisfy.
        condition: Condition,
    },
}

/// What a field's value must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Equal to this value (`{"field": value}`); `null` means "null or missing".
    Eq(Value),
    /// Every operator holds (`{"field": {"$gt": 1, "$lt": 5}}`).
    Ops(Vec<Operator>),
}

/// One operator of an operator object, in the order the query wrote them.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// `$eq`: same as a plain value.
    Eq(Value),
    /// `$ne`: not equal; matches a missing field.
    Ne(Value),
    /// `$gt`: greater, values of the same kind only.
    Gt(Value),
    /// `$gte`: greater or equal, values of the same kind only (`null`: null or missing).
    Gte(Value),
    /// `$lt`: less, values of the same kind only.
    Lt(Value),
    /// `$lte`: less or equal, values of the same kind only (`null`: null or missing).
    Lte(Value),
    /// `$in`: equal to one of the values.
    In(Vec<Value>),
    /// `$nin`: equal to none of the values; matches a missing field.
    Nin(Vec<Value>),
    /// `$exists`: the field is present (even if null) when `true`, missing when `false`.
    Exists(bool),
    /// `$regex` with its `$options`: the string field (or a string element of an array field)
    /// contains a match. Supported: literal text, `^`, `$`, `.`, `*`, `+`, `?`, `{n}`, `{n,}`,
    /// `{n,m}` (lazy `*?` and the like accepted), `|`, groups `(...)` and `(?:...)`, classes
    /// `[abc]`, `[a-z]`, `[^x]`, escapes `\d \w \s \D \W \S \t \n \r \f \v \xHH \uHHHH` and escaped
    /// punctuation. Options: `i` (case-insensitive), `m` (`^`/`$` at line breaks too), `s` (`.`
    /// matches a line break). `$` matches only at the very end of the text (or of a line with
    /// `m`).
    Regex {
        /// The pattern text.
        pattern: String,
        /// Option letters, possibly empty.
        options: String,
    },
    /// `$not`: the condition does not hold; matches a missing field.
    Not(Box<Condition>),
    /// `$all`: equal to every value (an array field containing all of them). Empty: no match.
    All(Vec<Value>),
    /// `$size`: an array field with exactly this many elements.
    Size(u64),
}

/// A parsed `sort` parameter: one field, ascending or descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// Field name, possibly dotted.
    pub field: String,
    /// `true` for `-field`.
    pub descending: bool,
}

/// Why a query or sort could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The filter text is not JSON.
    #[error("the query is not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// Where a filter object was expected, something else was found.
    #[error("{context} must be a JSON object, found {found}")]
    NotAnObject {
        /// What should have been an object.
        context: String,
        /// The kind of value found.
        found: &'static str,
    },
    /// A `$` key that is not a known operator, or not allowed where it is.
    #[error("unknown operator `{operator}` {}", location(.field.as_deref()))]
    UnknownOperator {
        /// The key, `$` included.
        operator: String,
        /// The field it applies to; `None` at the top level of a filter object.
        field: Option<String>,
    },
    /// An operator with an operand of the wrong type.
    #[error("operator `{operator}` {} needs {expected}, found {found}", location(.field.as_deref()))]
    InvalidOperand {
        /// The operator, `$` included.
        operator: String,
        /// The field it applies to; `None` for `$and`, `$or`, `$nor`.
        field: Option<String>,
        /// What the operand must be.
        expected: &'static str,
        /// What it was.
        found: String,
    },
    /// An object value mixing `$` keys and plain keys.
    #[error("the value of field `{field}` mixes operators (keys starting with `$`) and plain keys")]
    MixedOperators {
        /// The field.
        field: String,
    },
    /// `$options` without `$regex` next to it.
    #[error("`$options` on field `{field}` needs a `$regex` next to it")]
    OptionsWithoutRegex {
        /// The field.
        field: String,
    },
    /// A field path that is empty or has an empty segment (`a..b`).
    #[error("invalid field path `{path}`")]
    InvalidPath {
        /// The path as written.
        path: String,
    },
    /// A malformed regular expression (unbalanced parenthesis, nothing to repeat...).
    #[error("invalid regular expression `{pattern}`: {reason}")]
    InvalidRegex {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A regular expression or option beyond the supported subset (see [`Operator::Regex`]).
    #[error("unsupported regular expression `{pattern}`: {reason}")]
    UnsupportedRegex {
        /// The pattern.
        pattern: String,
        /// The construct or option not supported.
        reason: String,
    },
    /// A `sort` that is not `field`, `+field` or `-field`.
    #[error("invalid sort `{text}`: {reason}")]
    InvalidSort {
        /// The sort parameter as given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn location(field: Option<&str>) -> String {
    match field {
        Some(field) => format!("on field `{field}`"),
        None => "at the top level".to_owned(),
    }
}

impl Filter {
    /// The filter matching every record (an empty [`Filter::And`]).
    pub fn all() -> Filter {
        Filter::And(Vec::new())
    }
}

impl fmt::Display for Sort {
    /// The `sort` parameter text: `field` or `-field`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.descending {
            formatter.write_str("-")?;
        }
        formatter.write_str(&self.field)
    }
}
