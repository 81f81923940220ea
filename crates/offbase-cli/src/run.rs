//! From the command line to an exit code: parse, let the project file fill what the command
//! line and the environment left out, call the command, and turn an error into `error: ...` on
//! stderr and exit code 2.

use crate::cli::{Cli, Command, CorpusCommand, DiffCommand, FilesCommand, UsersCommand};
use crate::commands::{self, Context};
use crate::output::Verbosity;
use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;

pub fn run() -> ExitCode {
    register_passwords();
    let matches = with_literal_examples(Cli::command()).get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    crate::output::configure_colors(cli.color);
    crate::output::set_verbosity(if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    });
    let result = crate::project::apply(&mut cli, &matches).and_then(|project_file| {
        let context = Context { project_file };
        dispatch(cli.command, &context)
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!(
                "{} {}",
                crate::output::error_label(),
                crate::output::printable(&in_words(&error))
            );
            ExitCode::from(2)
        }
    }
}

/// Every command whose help ends with `Examples:` prints them as written, one line each: clap
/// wraps the text after the options to the terminal's width, which cut long commands in two
/// where they could no longer be pasted. The examples move into the command's help template,
/// whose literal text clap leaves alone.
pub fn with_literal_examples(command: clap::Command) -> clap::Command {
    let examples = command
        .get_after_help()
        .map(ToString::to_string)
        .filter(|text| text.starts_with("Examples:"));
    let command = match examples {
        Some(examples) => command.after_help(None::<&str>).help_template(format!(
            "{{before-help}}{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{{all-args}}\n\n{examples}"
        )),
        None => command,
    };
    command.mut_subcommands(with_literal_examples)
}

/// The error and its causes, `: `-joined, each said once: a cause whose text the message
/// already carries (many errors print their source) is not repeated.
fn in_words(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if message.is_empty() || text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// A database password given on the command line or in the environment is never printed.
fn register_passwords() {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        crate::output::register_url_password(&url);
    }
    let arguments: Vec<String> = std::env::args().collect();
    for (index, argument) in arguments.iter().enumerate() {
        if let Some(url) = argument.strip_prefix("--database-url=") {
            crate::output::register_url_password(url);
        } else if argument == "--database-url"
            && let Some(url) = arguments.get(index + 1)
        {
            crate::output::register_url_password(url);
        }
    }
}

fn dispatch(command: Command, context: &Context) -> anyhow::Result<ExitCode> {
    match command {
        Command::Plan(arguments) => commands::plan(arguments, context),
        Command::Assess(arguments) => commands::assess(arguments, context),
        Command::Pull(arguments) => commands::pull(arguments, context),
        Command::Emulate(arguments) => commands::emulate(arguments),
        Command::Serve(arguments) => commands::serve(arguments),
        Command::Load(arguments) => commands::load(arguments, context),
        Command::Migrate(arguments) => commands::migrate(arguments, context),
        Command::Generate(arguments) => commands::generate(arguments, context),
        Command::Sync(arguments) => commands::sync(arguments, context),
        Command::Status(arguments) => commands::status(arguments, context),
        Command::Reseal(arguments) => commands::reseal(arguments, context),
        Command::Cutover(arguments) => commands::cutover(arguments, context),
        Command::Diff(DiffCommand::Data(arguments)) => commands::diff_data(arguments, context),
        Command::Diff(DiffCommand::Behaviour(arguments)) => {
            commands::diff_behaviour(arguments, context)
        }
        Command::Corpus(CorpusCommand::Generate(arguments)) => {
            commands::corpus_generate(arguments, context)
        }
        Command::Corpus(CorpusCommand::FromHar(arguments)) => commands::corpus_from_har(arguments),
        Command::Files(FilesCommand::Scan(arguments)) => commands::files_scan(arguments, context),
        Command::Files(FilesCommand::Copy(arguments)) => commands::files_copy(arguments, context),
        Command::Files(FilesCommand::Rewrite(arguments)) => {
            commands::files_rewrite(arguments, context)
        }
        Command::Users(UsersCommand::Export(arguments)) => {
            commands::users_export(arguments, context)
        }
        Command::Completions(arguments) => commands::completions(arguments.shell),
    }
}
