//! Terminal output: progress bars on stderr when it is a terminal (quiet otherwise), results and
//! JSON on stdout; [`printable`], which every note and error goes through: the secrets this run
//! holds redacted, control characters escaped, whatever the text's source; [`Notes`], which keeps
//! every note shown on stderr for the `--json` output too.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use offbase_pipeline::progress::Reporter;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;

/// The secrets this run holds (the API key, a database password): never printed.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remembers a secret, so [`printable`] hides it wherever it appears.
pub fn register_secret(secret: &str) {
    // Too short a string would redact ordinary words.
    if secret.len() >= 4
        && let Ok(mut secrets) = SECRETS.lock()
        && !secrets.iter().any(|known| known == secret)
    {
        secrets.push(secret.to_owned());
    }
}

/// Remembers the password of a database URL (`postgres://user:password@host/...`).
pub fn register_url_password(url: &str) {
    let Some((_, rest)) = url.split_once("://") else {
        return;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if let Some((credentials, _)) = authority.rsplit_once('@')
        && let Some((_, password)) = credentials.split_once(':')
    {
        register_secret(password);
    }
}

/// `text` as it may be shown: every registered secret as `***`, and control characters other
/// than line breaks and tabs escaped (`\u{1b}`), so text from a server, a file or a schema
/// cannot move the cursor, clear the screen or retitle the window.
pub fn printable(text: &str) -> String {
    let mut shown = text.to_owned();
    if let Ok(secrets) = SECRETS.lock() {
        for secret in secrets.iter() {
            if shown.contains(secret.as_str()) {
                shown = shown.replace(secret.as_str(), "***");
            }
        }
    }
    if !shown
        .chars()
        .any(|character| character.is_control() && character != '\n' && character != '\t')
    {
        return shown;
    }
    shown
        .chars()
        .map(|character| {
            if character.is_control() && character != '\n' && character != '\t' {
                character.escape_default().to_string()
            } else {
                character.to_string()
            }
        })
        .collect()
}

/// The notes (warnings, waits) a command showed on stderr, kept so that its `--json` output
/// carries them too, and the project file it used.
#[derive(Debug, Default)]
pub struct Notes {
    project_file: Option<String>,
    kept: Mutex<Vec<String>>,
}

impl Notes {
    pub fn new(project_file: Option<String>) -> Self {
        Notes {
            project_file,
            kept: Mutex::new(Vec::new()),
        }
    }

    /// Keeps a note as it was shown (already through [`printable`]).
    pub fn keep(&self, text: &str) {
        if let Ok(mut kept) = self.kept.lock() {
            kept.push(text.to_owned());
        }
    }

    /// `value` as a command's JSON output: an object gains `notes` (the notes kept since the
    /// last call, so a command printing one document per pass gives each note once) and
    /// `project_file` (its name, or null). Other values are left as they are.
    pub fn document(&self, value: &impl Serialize) -> serde_json::Result<serde_json::Value> {
        let mut document = serde_json::to_value(value)?;
        if let Some(fields) = document.as_object_mut() {
            let notes = self
                .kept
                .lock()
                .map(|mut kept| std::mem::take(&mut *kept))
                .unwrap_or_default();
            fields.entry("notes").or_insert(notes.into());
            fields
                .entry("project_file")
                .or_insert(self.project_file.clone().into());
        }
        Ok(document)
    }
}

/// Draws one bar per task and a total bar; prints messages above them. Draws nothing when
/// stderr is not a terminal or when `quiet` (e.g. `--json`). Keeps every message in its
/// [`Notes`].
#[derive(Debug)]
pub struct TerminalReporter {
    interactive: bool,
    bars: MultiProgress,
    tasks: Mutex<BTreeMap<String, ProgressBar>>,
    total: Mutex<Option<ProgressBar>>,
    notes: Notes,
}

impl TerminalReporter {
    pub fn new(quiet: bool, notes: Notes) -> Self {
        let interactive = !quiet && std::io::stderr().is_terminal();
        let bars = if interactive {
            MultiProgress::new()
        } else {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        };
        TerminalReporter {
            interactive,
            bars,
            tasks: Mutex::new(BTreeMap::new()),
            total: Mutex::new(None),
            notes,
        }
    }

    /// `value` as the command's JSON output, pretty-printed, with the notes shown so far
    /// (see [`Notes::document`]).
    pub fn json(&self, value: &impl Serialize) -> serde_json::Result<String> {
        serde_json::to_string_pretty(&self.notes.document(value)?)
    }

    fn style(template: &str) -> ProgressStyle {
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = write!(out, "{:.0}/s", state.per_sec());
                },
            )
            .progress_chars("=> ")
    }

    fn total_bar(&self) -> Option<ProgressBar> {
        let mut total = self.total.lock().ok()?;
        if total.is_none() {
            let bar = self.bars.add(ProgressBar::new(0));
            bar.set_style(Self::style(
                "{prefix:>20.bold} [{bar:30}] {human_pos}/{human_len} {rate} ETA {eta}",
            ));
            bar.set_prefix("total");
            *total = Some(bar);
        }
        total.clone()
    }

    /// Removes every bar (before printing a final table).
    pub fn clear(&self) {
        if let Ok(tasks) = self.tasks.lock() {
            for bar in tasks.values() {
                bar.finish_and_clear();
            }
        }
        if let Ok(total) = self.total.lock()
            && let Some(bar) = total.as_ref()
        {
            bar.finish_and_clear();
        }
    }
}

impl Reporter for TerminalReporter {
    fn started(&self, task: &str, total: Option<u64>) {
        let bar = match total {
            Some(length) => {
                let bar = ProgressBar::new(length);
                bar.set_style(Self::style(
                    "{prefix:>20} [{bar:30}] {human_pos}/{human_len} {rate} ETA {eta}",
                ));
                bar
            }
            None => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(Self::style("{prefix:>20} {spinner} {human_pos} {rate}"));
                bar
            }
        };
        bar.set_prefix(task.to_owned());
        if let Some(total_bar) = self.total_bar() {
            total_bar.inc_length(total.unwrap_or(0));
        }
        let bar = self.bars.add(bar);
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.insert(task.to_owned(), bar);
        }
    }

    fn advanced(&self, task: &str, amount: u64) {
        if let Ok(tasks) = self.tasks.lock()
            && let Some(bar) = tasks.get(task)
        {
            bar.inc(amount);
        }
        if let Ok(total) = self.total.lock()
            && let Some(bar) = total.as_ref()
        {
            bar.inc(amount);
        }
    }

    fn finished(&self, task: &str) {
        if let Ok(tasks) = self.tasks.lock()
            && let Some(bar) = tasks.get(task)
        {
            bar.finish();
        }
    }

    fn message(&self, text: &str) {
        // Above the bars on a terminal; plain lines on stderr otherwise (logs, cron, CI).
        let text = printable(text);
        self.notes.keep(&text);
        if self.interactive {
            let _ = self.bars.println(format!("note: {text}"));
        } else {
            eprintln!("note: {text}");
        }
    }
}
