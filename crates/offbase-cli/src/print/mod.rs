//! Human output: the tables and summaries the commands print on stdout when `--json` is not
//! given. Nothing here decides anything; each function prints what it is handed. With `-q`
//! only the line each function marks as its outcome ([`outcome!`]) is printed; every other
//! line is [`say!`].

/// A line of a command's human output on stdout, left out with `-q`.
macro_rules! say {
    ($($argument:tt)*) => {
        if $crate::output::verbosity() != $crate::output::Verbosity::Quiet {
            println!($($argument)*);
        }
    };
}

/// The one line that sums up a command's outcome: printed with `-q` too.
macro_rules! outcome {
    ($($argument:tt)*) => {
        println!($($argument)*)
    };
}

pub(crate) use {outcome, say};

mod compare;
mod files;
mod load;
mod stage;
mod sync;
mod users;

pub use compare::{diff_behaviour, diff_data, har_extract};
pub use files::{files_copy, files_rewrite, files_scan};
pub use load::{load, migrate, reseal, status};
pub use stage::{generate, import, plan, pull};
pub use sync::{SyncReporter, SyncTable, cutover, reapply, undone};
pub use users::users_export;

/// How many items of a long list to print: `usual`, or all of them with `-v`.
pub fn listed(usual: usize) -> usize {
    if crate::output::verbosity() == crate::output::Verbosity::Verbose {
        usize::MAX
    } else {
        usual
    }
}

/// `0.8s`, `42s`, `12m`, `5h`, `186d`.
pub fn human_seconds(seconds: f64) -> String {
    match seconds {
        seconds if seconds < 10.0 => format!("{seconds:.1}s"),
        seconds if seconds < 120.0 => format!("{seconds:.0}s"),
        seconds if seconds < 7_200.0 => format!("{:.0}m", seconds / 60.0),
        seconds if seconds < 172_800.0 => format!("{:.0}h", seconds / 3_600.0),
        seconds => format!("{:.0}d", seconds / 86_400.0),
    }
}
