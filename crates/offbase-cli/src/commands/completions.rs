//! `offbase completions SHELL`: the script clap derives from the commands.

use crate::cli::Cli;
use std::process::ExitCode;

/// Written whole from memory, so a closed stdout is an error, not a panic.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "offbase", &mut script);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script)
        .and_then(|()| stdout.flush())
        .map_err(|error| anyhow::anyhow!("cannot write the completion script: {error}"))?;
    Ok(ExitCode::SUCCESS)
}
