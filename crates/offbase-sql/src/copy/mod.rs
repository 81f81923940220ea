//! COPY: converting records into typed cells and encoding them for PostgreSQL's COPY, in the
//! binary format (live loads) and the text format (bundles), plus the content hash that checks
//! a loaded table against the workspace.

pub mod binary;
pub mod cell;
pub mod convert;
pub mod hash;
pub mod row_hash;
pub mod text;

pub use cell::Cell;
