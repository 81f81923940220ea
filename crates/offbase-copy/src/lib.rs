//! How a record becomes PostgreSQL bytes: converting records into typed cells by the plan
//! (or a reject reason), encoding them for PostgreSQL's COPY in the binary format (live loads)
//! and the text format (bundles), and the content and row hashes that check a loaded table
//! against the workspace. Pure, and depends on the model alone: the load, the bundle, the
//! sync, verify and both diffs share it, so they agree byte for byte.

pub mod binary;
pub mod cell;
pub mod convert;
pub mod hash;
pub mod json;
pub mod row_hash;
pub mod text;

pub use cell::Cell;
