//! Staging: records from a source into the workspace. `pull` pages the Base44 API with
//! checkpoints; `import` reads dashboard CSV exports, seed files and sample app folders;
//! `generate` makes up records for any schema.

pub mod generate;
pub mod import;
pub mod pull;
