//! Terminal output: progress bars on stderr when it is a terminal (quiet otherwise), results and
//! JSON on stdout; [`printable`], which every note and error goes through: the secrets this run
//! holds redacted, control characters escaped, whatever the text's source; [`Notes`], which keeps
//! every note shown on stderr for the `--json` output too; how much a run says ([`Verbosity`],
//! `-q`/`-v`) and whether it colors (`--color`, `NO_COLOR`).

use indicatif::{HumanCount, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use offbase_pipeline::progress::Reporter;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// How much a run says: set once from `-q`/`-v` before the command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors and each command's final line only (no progress, no notes).
    Quiet,
    Normal,
    /// `-v`: a line for every finished step, and lists in full where they are cut short.
    Verbose,
}

static VERBOSITY: AtomicU8 = AtomicU8::new(1);

pub fn set_verbosity(verbosity: Verbosity) {
    VERBOSITY.store(verbosity as u8, Ordering::Relaxed);
}

pub fn verbosity() -> Verbosity {
    match VERBOSITY.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// Whether the output is colored: `--color always|never`, or, with `auto`, where the stream is
/// a terminal and `NO_COLOR` is unset or empty (no-color.org). The bars' colors follow it too.
pub fn configure_colors(choice: crate::cli::ColorChoice) {
    use crate::cli::ColorChoice;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let (stdout, stderr) = match choice {
        ColorChoice::Always => (true, true),
        ColorChoice::Never => (false, false),
        ColorChoice::Auto if no_color => (false, false),
        ColorChoice::Auto => (
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        ),
    };
    console::set_colors_enabled(stdout);
    console::set_colors_enabled_stderr(stderr);
}

/// A note on stderr outside a reporter (a command that draws no progress), left out with `-q`.
pub fn note(text: &str) {
    if verbosity() != Verbosity::Quiet {
        eprintln!("{} {}", note_label(), printable(text));
    }
}

/// `error:`, red when stderr is colored.
pub fn error_label() -> String {
    console::style("error:")
        .for_stderr()
        .red()
        .bold()
        .to_string()
}

/// `note:`, yellow when stderr is colored.
pub fn note_label() -> String {
    console::style("note:").for_stderr().yellow().to_string()
}

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

/// How a run's progress reaches its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// stderr is a terminal: one live region redrawn in place (a bar per active task, one
    /// total bar under them), notes and finished tasks printed above it.
    Live,
    /// stderr is a file, a pipe or a CI log: one plain line per finished task and per note,
    /// no control characters.
    Lines,
    /// `--json` (the document on stdout says it all) or `-q`: notes only (none with `-q`),
    /// kept for the document.
    Quiet,
}

/// A task being shown: its bar (drawn only when live; it counts either way) and when it
/// started.
#[derive(Debug)]
struct Shown {
    bar: ProgressBar,
    started: Instant,
}

#[derive(Debug, Default)]
struct Region {
    tasks: BTreeMap<String, Shown>,
    /// Exists once a task with a known size started: an empty total is never drawn.
    total: Option<ProgressBar>,
}

/// Draws the live region on a terminal and plain lines elsewhere ([`Mode`]); prints notes
/// above the region without tearing it; keeps every note in its [`Notes`].
#[derive(Debug)]
pub struct TerminalReporter {
    mode: Mode,
    bars: MultiProgress,
    region: Mutex<Region>,
    notes: Notes,
}

/// How often the live region is redrawn: enough to look alive, little enough to cost
/// nothing next to the work.
const REDRAWS_PER_SECOND: u8 = 10;

impl TerminalReporter {
    /// Bars on a terminal; none with `--json` (`json`) or `-q`.
    pub fn new(json: bool, notes: Notes) -> Self {
        let mode = if json || verbosity() == Verbosity::Quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Lines
        };
        Self::with_mode(mode, notes)
    }

    fn with_mode(mode: Mode, notes: Notes) -> Self {
        let target = match mode {
            Mode::Live => ProgressDrawTarget::stderr_with_hz(REDRAWS_PER_SECOND),
            Mode::Lines | Mode::Quiet => ProgressDrawTarget::hidden(),
        };
        TerminalReporter {
            mode,
            bars: MultiProgress::with_draw_target(target),
            region: Mutex::new(Region::default()),
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
                    let _ = write!(out, "{}/s", HumanCount(state.per_sec() as u64));
                },
            )
            .progress_chars("=> ")
    }

    /// A line above the live region (or on stderr without one).
    fn line(&self, text: &str) {
        match self.mode {
            Mode::Live => {
                let _ = self.bars.println(text);
            }
            Mode::Lines => eprintln!("{text}"),
            Mode::Quiet => {}
        }
    }

    /// Removes the live region (before printing a final table): nothing of it stays on
    /// screen.
    pub fn clear(&self) {
        if let Ok(mut region) = self.region.lock() {
            for (_, shown) in std::mem::take(&mut region.tasks) {
                shown.bar.finish_and_clear();
                self.bars.remove(&shown.bar);
            }
            if let Some(total) = region.total.take() {
                total.finish_and_clear();
                self.bars.remove(&total);
            }
        }
        let _ = self.bars.clear();
    }
}

/// What a finished task leaves: its name, what it counted and how long it took, e.g.
/// `                Task 400,000 in 4.3s`.
fn finished_line(task: &str, counted: u64, seconds: f64) -> String {
    if counted == 0 {
        format!("{task:>20} done in {seconds:.1}s")
    } else {
        format!("{task:>20} {} in {seconds:.1}s", HumanCount(counted))
    }
}

impl Reporter for TerminalReporter {
    fn started(&self, task: &str, total: Option<u64>) {
        let Ok(mut region) = self.region.lock() else {
            return;
        };
        // Built hidden and drawn only through the region: a bar that drew itself once before
        // joining it would leave a stray line the region never clears (every later redraw
        // then lands one line off, stacking copies of the region).
        let bar = match total {
            Some(length) => {
                let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::hidden());
                bar.set_style(Self::style(
                    "{prefix:>20} [{bar:30}] {human_pos}/{human_len} {rate} ETA {eta}",
                ));
                bar
            }
            None => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
                bar.set_style(Self::style("{prefix:>20} {spinner} {human_pos} {rate}"));
                bar
            }
        };
        bar.set_prefix(task.to_owned());
        // Tasks above, the total last: a new task's bar goes just above the total.
        let bar = match &region.total {
            Some(total_bar) => self.bars.insert_before(total_bar, bar),
            None => self.bars.add(bar),
        };
        if total.is_none() && self.mode == Mode::Live {
            // A spinner spins only while its task runs, and is cleared when it ends.
            bar.enable_steady_tick(Duration::from_millis(100));
        }
        if let Some(length) = total.filter(|length| *length > 0) {
            match &region.total {
                Some(total_bar) => total_bar.inc_length(length),
                None => {
                    let total_bar =
                        ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::hidden());
                    total_bar.set_style(Self::style(
                        "{prefix:>20.bold} [{bar:30.cyan}] {human_pos}/{human_len} {rate} ETA {eta}",
                    ));
                    total_bar.set_prefix("total");
                    region.total = Some(self.bars.add(total_bar));
                }
            }
        }
        let shown = Shown {
            bar,
            started: Instant::now(),
        };
        // A task started again (a second pass) replaces its bar.
        if let Some(old) = region.tasks.insert(task.to_owned(), shown) {
            old.bar.finish_and_clear();
            self.bars.remove(&old.bar);
        }
    }

    fn advanced(&self, task: &str, amount: u64) {
        if let Ok(region) = self.region.lock() {
            if let Some(shown) = region.tasks.get(task) {
                shown.bar.inc(amount);
            }
            if let Some(total) = &region.total {
                total.inc(amount);
            }
        }
    }

    fn finished(&self, task: &str) {
        let removed = self
            .region
            .lock()
            .ok()
            .and_then(|mut region| region.tasks.remove(task));
        let Some(shown) = removed else {
            return;
        };
        let counted = shown.bar.position();
        shown.bar.finish_and_clear();
        self.bars.remove(&shown.bar);
        // Live, a task that counted nothing (a step) just goes; elsewhere every finished
        // step is a line.
        if counted > 0 || self.mode == Mode::Lines || verbosity() == Verbosity::Verbose {
            self.line(&finished_line(
                &printable(task),
                counted,
                shown.started.elapsed().as_secs_f64(),
            ));
        }
    }

    fn message(&self, text: &str) {
        // Above the region on a terminal; plain lines on stderr otherwise (logs, cron, CI).
        let text = printable(text);
        self.notes.keep(&text);
        if verbosity() == Verbosity::Quiet {
            return;
        }
        match self.mode {
            Mode::Live => {
                let _ = self.bars.println(format!("{} {text}", note_label()));
            }
            Mode::Lines | Mode::Quiet => eprintln!("{} {text}", note_label()),
        }
    }
}
