//! Base44 specifics for offbase. For now: the schema reader, which finds the entity schemas of
//! an exported Base44 app ([`schema::read_app`]) and turns them into the offbase IR, and the
//! JSONC reader it relies on ([`jsonc::strip`]).

pub mod api;
pub mod client;
pub mod corpus;
pub mod csv_export;
pub mod har;
pub mod jsonc;
pub mod platform;
pub mod query;
pub mod schema;
pub mod seed;

pub use schema::{ParsedFile, ReadOutcome, ReadWarning, SchemaError, parse_entity_file, read_app};
