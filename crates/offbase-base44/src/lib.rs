//! Base44 specifics for offbase: what the platform is and does, as far as moving an app off it
//! needs. Each module owns one part:
//!
//! - [`api`]: the platform's API facts and rules, each stated once (the list cap, the default
//!   limit, the rate allowances, which query parameters a read defines and the equality filter
//!   every other one is);
//! - [`schema`]: finding an exported app's entity schemas and reading them into the offbase IR
//!   ([`read_app`], [`parse_entity_file`]), and writing an entity back as a schema;
//! - [`jsonc`]: the JSONC reader schemas and seed files rely on ([`jsonc::strip`]);
//! - [`platform`]: the entities every app has whether or not it declares them (`User`);
//! - [`query`]: the entity query language (`q` and `sort`): its AST, parsing, and evaluation
//!   against records in memory;
//! - [`rls`]: access rules evaluated in memory: whether a user (or an anonymous visitor) may
//!   read, create, update or delete a record, the platform's built-in `User` rules included;
//! - [`aggregate`]: the SDK's `aggregate(spec)`: the spec read and checked against an entity,
//!   and its evaluation (groups, counts, sums...) over records in memory;
//! - [`update`]: the MongoDB-style update documents of `updateMany` (`$set`, `$inc`, `$push`,
//!   ...): parsing one, and the changes it makes to a record;
//! - [`exports`]: importing records from an export's files, the dashboard's CSV exports
//!   ([`csv_export`]) and the CLI's seed files ([`seed`]);
//! - [`files`]: which URLs point at the platform's file storage, in every shape, and the key a
//!   copy of each is kept under;
//! - [`accounts`]: the account calls' rules and texts (code lifetimes and allowances, password
//!   and address checks, the requests, answers and refusals), which `offbase serve` and the
//!   emulator both answer by;
//! - [`corpus`] and [`har`]: behaviour corpora of entity reads, written by hand or taken from a
//!   browser's HAR capture;
//! - `client` (feature `client`, off by default): the HTTP client of the entity API, with its
//!   request budget and retries. Only the crates that talk to the API enable it, so the pure
//!   crates (read translation, for one) do not link an HTTP stack.
//!
//! Everything but `client` is pure or reads local files only.

pub mod accounts;
pub mod aggregate;
pub mod api;
#[cfg(feature = "client")]
pub mod client;
pub mod corpus;
pub mod exports;
pub mod files;
pub mod har;
pub mod jsonc;
pub mod platform;
pub mod query;
pub mod rls;
pub mod schema;
pub mod update;
pub mod upsert;

pub use exports::{csv as csv_export, seed};
pub use schema::{ParsedFile, ReadOutcome, ReadWarning, SchemaError, parse_entity_file, read_app};

/// The largest integer up to which every integer is exactly an `f64` (2^53): integral floats
/// are read as integers, and written without a fraction, only up to it.
pub(crate) const EXACT_FLOAT_INTEGER: f64 = 9_007_199_254_740_992.0;
