//! The Base44 entity query language: the MongoDB-like filter `q` and the `sort` parameter of the
//! entity REST API. Owns parsing them ([`parse_filter`], [`parse_filter_str`], [`parse_sort`])
//! into a small public AST ([`Filter`], [`Condition`], [`Operator`], [`Sort`]), evaluating that
//! AST against records held in memory ([`Filter::matches`], [`Sort::compare`]) and the value
//! order both rely on ([`compare_values`], [`instant`]). Pure: no I/O.
//!
//! Where each part lives: the AST and its errors in `ast`, reading `q` and `sort` into it in
//! `parse`, matching and ordering in `evaluate`, and the `$regex` subset (a compiler and a
//! linear-time matcher) in `regex`.
//!
//! Semantics, MongoDB-like:
//! - a field path may be dotted (`address.city`): each segment steps into a nested object;
//! - equality (`{"f": v}`, `$eq`, `$in`, `$all`) also matches an array field holding an element
//!   equal to `v`; `null` matches a null or missing field; `$ne` and `$nin` match missing fields;
//! - numbers compare numerically (`1` equals `1.0`); two strings that both read as instants
//!   (a timestamp of the workspace's one grammar, `offbase_model::time`, or a date alone: see
//!   [`instant`]) compare as instants, so `2026-06-01T09:23:41.481000` equals
//!   `2026-06-01T09:23:41.481Z`;
//! - `$gt`, `$gte`, `$lt`, `$lte` only compare values of one kind (numbers, strings or
//!   booleans); on an array field any element may satisfy them;
//! - `$regex` supports a subset of regular expressions (see [`Operator::Regex`]) and rejects
//!   anything beyond it with [`QueryError::UnsupportedRegex`] rather than mis-matching.

mod ast;
mod evaluate;
mod parse;
mod regex;

pub use ast::{Condition, Filter, Operator, QueryError, Sort};
pub use evaluate::{compare_values, instant};
pub use parse::{parse_filter, parse_filter_str, parse_sort};
