//! The `offbase` binary: parse, dispatch, exit with 0 (ok), 1 (differences found) or 2 (error).
//!
//! Modules depend one way, with no circle:
//!
//! - `run` (parse, project file, dispatch) → `project` (offbase.toml) → `cli` (clap types and
//!   value parsers, which depend on nothing of this crate);
//! - `run` → `commands` (one function per command, by family) → `print` (human tables) →
//!   `output` (the reporter and its notes, redaction); `commands` → `cli` for their arguments.

mod cli;
mod commands;
mod output;
mod print;
mod project;
mod run;

// A load allocates and frees a few small values per field of every record, from two threads;
// mimalloc's thread-local free lists make that markedly cheaper than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    run::run()
}
