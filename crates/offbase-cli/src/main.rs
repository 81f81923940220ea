//! The `offbase` binary: parse, dispatch, exit with 0 (ok), 1 (differences found) or 2 (error).

mod cli;
mod commands;
mod output;

fn main() -> std::process::ExitCode {
    cli::run()
}
