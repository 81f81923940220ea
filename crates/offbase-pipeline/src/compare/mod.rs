//! Comparing the workspace, the source and the target: `verify` (workspace against table
//! hashes), `diff` (data: range-hash bisection down to the records that differ, with the
//! workspace or the Base44 API (`api_source`) as the source), `behaviour` (the same reads asked
//! of both backends) and `corpus` (those reads generated from a workspace).

pub mod api_source;
pub mod behaviour;
mod bisect;
pub mod canonical;
pub mod corpus;
pub mod diff;
mod sorted_rows;
pub mod verify;
