//! The `offbase` binary: parse, dispatch, exit with 0 (ok), 1 (differences found) or 2 (error).

mod cli;
mod commands;
mod output;
mod sync;

// A load allocates and frees a few small values per field of every record, from two threads;
// mimalloc's thread-local free lists make that markedly cheaper than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
