//! Command-line parsing: every command, flag and help text of `offbase`.

use crate::commands;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Move a Base44 app onto PostgreSQL you own: schemas, data, sync and diffs.
#[derive(Debug, Parser)]
#[command(name = "offbase", version, about, long_about = None)]
#[command(
    after_help = "Start with `offbase plan PATH/TO/APP` to see what your data will look like in PostgreSQL."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Translate an app's entity schemas into PostgreSQL DDL and a mapping report.
    ///
    /// Reads every entity schema under SOURCE (a code-export root, a base44/entities,
    /// src/entities or entities folder, or one schema file), applies the default mapping
    /// (mappings/base44.toml) and your overrides, and writes OUT/plan.sql and
    /// OUT/mapping-report.md. The same input always gives byte-identical files, so plans can be
    /// reviewed in pull requests. With --apply, the plan is also run against PostgreSQL in one
    /// transaction.
    #[command(
        after_help = "Examples:\n  offbase plan samples/crm\n  offbase plan ./my-app --mappings my-app.toml --out review/\n  offbase plan ./my-app --apply --database-url postgres://me@localhost/app --pg-schema staging"
    )]
    Plan(PlanArgs),
}

/// Where PostgreSQL is: shared by every command that touches a database.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL (a password in it is never printed).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// The PostgreSQL schema to work in; created if missing.
    #[arg(long, default_value = "public", value_name = "NAME")]
    pub pg_schema: String,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The app: a code-export root, an entities folder, or one schema file.
    pub source: PathBuf,
    /// A per-app mapping file (TOML) layered over the defaults: renames, types, skips, enums,
    /// foreign keys. See docs/mapping.md.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
    /// Where to write plan.sql and mapping-report.md.
    #[arg(long, default_value = "offbase-plan", value_name = "DIR")]
    pub out: PathBuf,
    /// Print a machine-readable summary on stdout instead of the human one.
    #[arg(long)]
    pub json: bool,
    /// Also apply the plan to PostgreSQL, in one transaction. Refuses if its tables exist.
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plan(arguments) => commands::plan(arguments),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
