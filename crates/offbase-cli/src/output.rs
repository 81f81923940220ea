//! Terminal output helpers: what goes to stdout (results, JSON) and stderr (progress, warnings).

use offbase_pipeline::progress::Reporter;
use std::io::IsTerminal;

/// Prints stage messages on stderr when it is a terminal; stays quiet otherwise.
#[derive(Debug)]
pub struct TerminalReporter {
    interactive: bool,
}

impl TerminalReporter {
    pub fn new(quiet: bool) -> Self {
        TerminalReporter {
            interactive: !quiet && std::io::stderr().is_terminal(),
        }
    }
}

impl Reporter for TerminalReporter {
    fn started(&self, _task: &str, _total: Option<u64>) {}
    fn advanced(&self, _task: &str, _amount: u64) {}
    fn finished(&self, _task: &str) {}
    fn message(&self, text: &str) {
        if self.interactive {
            eprintln!("note: {text}");
        }
    }
}
