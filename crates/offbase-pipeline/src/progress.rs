//! The progress reporter: how stages tell a front end what they are doing. The CLI implements
//! it with progress bars; tests and scripts use [`NoProgress`].

/// Receives progress from a stage. Implementations must be cheap: stages call them in loops.
pub trait Reporter: Send + Sync {
    /// A task (an entity, a file, a step) started; `total` is known when it can be.
    fn started(&self, task: &str, total: Option<u64>);
    /// `amount` more units of `task` are done.
    fn advanced(&self, task: &str, amount: u64);
    /// `task` is done.
    fn finished(&self, task: &str);
    /// Something the user should see now (a warning while the stage goes on).
    fn message(&self, text: &str);
}

/// A reporter that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Reporter for NoProgress {
    fn started(&self, _task: &str, _total: Option<u64>) {}
    fn advanced(&self, _task: &str, _amount: u64) {}
    fn finished(&self, _task: &str) {}
    fn message(&self, _text: &str) {}
}
