//! The project file, `offbase.toml`: defaults for the flags a consultant repeats on every
//! command of one migration (the workspace, the mapping file, the Base44 app, the target
//! database and schema).
//!
//! ```toml
//! workspace = "offbase-workspace"
//! mappings = "mappings/app.toml"
//! [source]
//! api_url = "https://app.base44.com"
//! app_id = "6989..."
//! api_key_env = "BASE44_API_KEY"      # the NAME of the variable, never a key
//! [target]
//! database_url_env = "DATABASE_URL"   # the variable holding the URL; or database_url without a password
//! pg_schema = "app"
//! ```
//!
//! Where: `--config FILE` (or `OFFBASE_CONFIG`), else `offbase.toml` in the current folder when
//! there is one. Relative paths in it are relative to its folder. Only commands that take one
//! of those flags read it, and each says so once (`note: using project file ./offbase.toml`,
//! also in its `--json` output).
//!
//! Secrets never go in it: a `database_url` with a password, and any key named like a secret
//! (`api_key`, `password`, `token`, `secret`), are refused, naming the file and the key; so is
//! a key offbase does not know.
//!
//! Precedence: flag > environment variable > project file > built-in default. It is applied
//! after clap has parsed the command line: clap records where each value came from
//! ([`ArgMatches::value_source`]), and the file fills a field of a shared flag group
//! ([`Groups`]) only where that source is neither the command line nor an environment variable
//! (`--database-url`'s `DATABASE_URL`), that is, where the value is clap's built-in default or
//! absent. The built-in defaults stay clap's, so `--help` shows them. Rules that tie several of
//! these flags together (`--api-url` needs `--app-id`, a source is required) are checked by the
//! commands, after the file, since the file may give what the command line leaves out.

use crate::cli::{Cli, Groups, parse};
use anyhow::{Context, bail};
use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The project file looked for in the current folder.
pub const FILE_NAME: &str = "offbase.toml";

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    workspace: Option<PathBuf>,
    mappings: Option<PathBuf>,
    #[serde(default)]
    source: SourceSection,
    #[serde(default)]
    target: TargetSection,
}

/// `[source]`: the Base44 app.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceSection {
    api_url: Option<String>,
    app_id: Option<String>,
    api_key_env: Option<String>,
}

/// `[target]`: the PostgreSQL database and schema.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetSection {
    database_url: Option<String>,
    database_url_env: Option<String>,
    pg_schema: Option<String>,
}

/// A project file, read and checked.
#[derive(Debug)]
pub struct Project {
    path: PathBuf,
    file: ProjectFile,
}

/// Reads the project file, if the command takes any flag it gives defaults to, and fills what
/// the command line and the environment left out. Returns the file's name as shown, when one
/// was used.
pub fn apply(cli: &mut Cli, matches: &ArgMatches) -> anyhow::Result<Option<String>> {
    let groups = cli.command.groups();
    if groups.is_empty() {
        return Ok(None);
    }
    let Some(project) = find(cli.config.as_deref())? else {
        return Ok(None);
    };
    let leaf = leaf(matches);
    project.fill(groups, &|id| given(leaf, id));
    Ok(Some(project.shown()))
}

/// The file at `explicit` (`--config`, `OFFBASE_CONFIG`), which must exist; else
/// `./offbase.toml` when there is one.
pub fn find(explicit: Option<&Path>) -> anyhow::Result<Option<Project>> {
    match explicit {
        Some(path) => Project::read(path).map(Some),
        None if Path::new(FILE_NAME).is_file() => Project::read(Path::new(FILE_NAME)).map(Some),
        None => Ok(None),
    }
}

impl Project {
    pub fn read(path: &Path) -> anyhow::Result<Project> {
        let shown = shown(path);
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the project file {shown}"))?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("the project file {shown} is not valid TOML"))?;
        refuse_secret_keys(&table, "", &shown)?;
        let file: ProjectFile = toml::from_str(&text)
            .with_context(|| format!("the project file {shown} is not valid"))?;
        check(&file, &shown)?;
        Ok(Project {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The file's name as notes show it (`./offbase.toml`).
    pub fn shown(&self) -> String {
        shown(&self.path)
    }

    /// A path of the file, relative to the file's folder.
    fn resolve(&self, path: &Path) -> PathBuf {
        match self.path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// Fills each field of `groups` the file gives and `given` (by the flag's id) says neither
    /// the command line nor the environment gave.
    pub fn fill(&self, groups: Groups<'_>, given: &dyn Fn(&str) -> bool) {
        let file = &self.file;
        if let (Some(group), Some(workspace)) = (groups.workspace, &file.workspace)
            && !given("workspace")
        {
            group.workspace = self.resolve(workspace);
        }
        if let (Some(group), Some(mappings)) = (groups.mappings, &file.mappings)
            && !given("mappings")
        {
            group.mappings = Some(self.resolve(mappings));
        }
        let mut api_key = None;
        if let Some(group) = groups.api {
            if let Some(url) = &file.source.api_url
                && !given("api_url")
            {
                group.api_url = Some(url.clone());
            }
            if let Some(app_id) = &file.source.app_id
                && !given("app_id")
            {
                group.app_id = Some(app_id.clone());
            }
            api_key = Some(&mut group.key);
        }
        let api_key = groups.api_key.or(api_key);
        if let (Some(group), Some(name)) = (api_key, &file.source.api_key_env)
            && !given("api_key_env")
        {
            group.api_key_env = name.clone();
        }
        if let Some(group) = groups.target {
            if let Some(schema) = &file.target.pg_schema
                && !given("pg_schema")
            {
                group.pg_schema = schema.clone();
            }
            if !given("database_url") {
                if let Some(url) = &file.target.database_url {
                    group.database_url = Some(url.clone());
                } else if let Some(name) = &file.target.database_url_env {
                    match std::env::var(name) {
                        Ok(url) => {
                            crate::output::register_url_password(&url);
                            group.database_url = Some(url);
                        }
                        // DATABASE_URL itself would have been given above.
                        Err(_) if name == "DATABASE_URL" => {}
                        Err(_) => {
                            group.unset_url_variable =
                                Some(format!("{name}, which {} names", self.shown()));
                        }
                    }
                }
            }
        }
    }
}

/// `offbase.toml` as `./offbase.toml`; other paths as they are.
fn shown(path: &Path) -> String {
    match path.parent() {
        Some(folder) if folder.as_os_str().is_empty() => format!("./{}", path.display()),
        _ => path.display().to_string(),
    }
}

/// The matches of the command that runs (`diff data`, not `diff`).
fn leaf(matches: &ArgMatches) -> &ArgMatches {
    match matches.subcommand() {
        Some((_, sub)) => leaf(sub),
        None => matches,
    }
}

/// Whether the flag `id` was given on the command line or by its environment variable.
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.ids().any(|known| known.as_str() == id)
        && matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
}

/// Refuses a key named like a secret, anywhere in the file: a secret belongs in an environment
/// variable, which the file may name (`api_key_env`, `database_url_env`).
fn refuse_secret_keys(table: &toml::Table, prefix: &str, shown: &str) -> anyhow::Result<()> {
    for (key, value) in table {
        let path = format!("{prefix}{key}");
        let name = key.to_ascii_lowercase();
        let secret = !name.ends_with("_env")
            && (["password", "passwd", "token", "secret", "api_key", "apikey"]
                .iter()
                .any(|word| name.contains(word))
                || name == "key");
        if secret {
            bail!(
                "the project file {shown} holds `{path}`: secrets never go in the project file. Keep it in an environment variable and name the variable instead (e.g. api_key_env = \"BASE44_API_KEY\" under [source])"
            );
        }
        if let toml::Value::Table(inner) = value {
            refuse_secret_keys(inner, &format!("{path}."), shown)?;
        }
    }
    Ok(())
}

/// The values' own checks: names of variables, a schema PostgreSQL keeps, no password in a
/// URL.
fn check(file: &ProjectFile, shown: &str) -> anyhow::Result<()> {
    let invalid = |key: &str, message: String| {
        anyhow::anyhow!("the project file {shown}: `{key}`: {message}")
    };
    if let Some(name) = &file.source.api_key_env {
        parse::variable_name(name).map_err(|message| invalid("source.api_key_env", message))?;
    }
    if let Some(name) = &file.target.database_url_env {
        parse::variable_name(name)
            .map_err(|message| invalid("target.database_url_env", message))?;
    }
    if let Some(schema) = &file.target.pg_schema {
        parse::pg_schema(schema).map_err(|message| invalid("target.pg_schema", message))?;
    }
    if let Some(url) = &file.target.database_url {
        if file.target.database_url_env.is_some() {
            return Err(invalid(
                "target.database_url",
                "give database_url or database_url_env, not both".to_owned(),
            ));
        }
        if holds_password(url) {
            return Err(invalid(
                "target.database_url",
                "it holds a password: secrets never go in the project file. Keep the URL in an environment variable and name it instead (database_url_env = \"DATABASE_URL\")".to_owned(),
            ));
        }
    }
    Ok(())
}

/// `postgres://user:password@host/...`, or a `password=` parameter.
fn holds_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let in_authority = authority
        .rsplit_once('@')
        .is_some_and(|(credentials, _)| credentials.contains(':'));
    let in_parameters = url.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|pair| pair.to_ascii_lowercase().starts_with("password="))
    });
    in_authority || in_parameters
}

#[cfg(test)]
mod tests {
    use super::holds_password;

    #[test]
    fn passwords_in_urls_are_found() {
        assert!(holds_password("postgres://me:secret@localhost/app"));
        assert!(holds_password(
            "postgres://localhost/app?user=me&password=secret"
        ));
        assert!(!holds_password("postgres://me@localhost/app"));
        assert!(!holds_password(
            "postgres://localhost:5432/app?sslmode=require"
        ));
    }
}
