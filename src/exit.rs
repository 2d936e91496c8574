//! Process exit codes, one per failure class, and the `Failure` every command returns.
//!
//! The table is part of the CLI contract and is documented in `book/src/reference/exit-codes.md`;
//! a test keeps the two in step.

use std::fmt;

/// Exit status of the `airlift` process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Exit {
    /// Everything asked for was done.
    Success = 0,
    /// An unexpected internal error (a bug: please report it).
    Internal = 1,
    /// Command-line usage error (clap).
    Usage = 2,
    /// The recipe (or another input file) is invalid; diagnostics were printed.
    InvalidInput = 3,
    /// The command or option exists but is not available in this version yet.
    NotAvailable = 4,
    /// A registry, update graph or other remote could not be reached, refused auth, or failed
    /// after retries.
    Remote = 5,
    /// Some content failed while independent content succeeded; the summary lists what.
    Partial = 6,
    /// `--locked` and resolution differs from `airlift.lock`.
    LockMismatch = 7,
    /// Another airlift process holds the workspace.
    WorkspaceBusy = 8,
    /// Verification failed: a signature, a digest, or content promised by the lock is missing.
    Verification = 9,
    /// Local I/O failed (disk full, permission denied, unreadable file).
    Io = 10,
}

impl Exit {
    pub const ALL: [Exit; 11] = [
        Exit::Success,
        Exit::Internal,
        Exit::Usage,
        Exit::InvalidInput,
        Exit::NotAvailable,
        Exit::Remote,
        Exit::Partial,
        Exit::LockMismatch,
        Exit::WorkspaceBusy,
        Exit::Verification,
        Exit::Io,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    /// Short name used in the reference table and in JSON messages.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::Internal => "internal",
            Exit::Usage => "usage",
            Exit::InvalidInput => "invalid-input",
            Exit::NotAvailable => "not-available",
            Exit::Remote => "remote",
            Exit::Partial => "partial",
            Exit::LockMismatch => "lock-mismatch",
            Exit::WorkspaceBusy => "workspace-busy",
            Exit::Verification => "verification",
            Exit::Io => "io",
        }
    }
}

/// A command's failure: what to print and which exit code to use.
pub struct Failure {
    pub exit: Exit,
    pub report: miette::Report,
}

impl Failure {
    pub fn new(exit: Exit, report: impl Into<miette::Report>) -> Self {
        Failure {
            exit,
            report: report.into(),
        }
    }

    /// A local I/O failure (workspace, journal, lock file, outputs). `what` already names the
    /// path and the cause; the help says what to do, the same everywhere.
    /// A file that could not be read (`io`: exit 10) or says something invalid (exit 3).
    pub fn unreadable_or_invalid(io: bool, report: impl Into<miette::Report>) -> Self {
        let exit = if io { Exit::Io } else { Exit::InvalidInput };
        Failure::new(exit, report)
    }

    pub fn io(what: impl std::fmt::Display) -> Self {
        Failure::new(
            Exit::Io,
            miette::miette!(
                help = "check that the path is writable and the disk has space, then rerun: finished work is recorded and not repeated",
                "{what}"
            ),
        )
    }

    /// The uniform answer of a command that a later version implements.
    pub fn not_available(what: &str) -> Self {
        Failure::new(
            Exit::NotAvailable,
            miette::miette!(
                help = "this version of airlift does not implement it yet; nothing was changed",
                "`{what}` is not available yet"
            ),
        )
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failure({:?}: {})", self.exit, self.report)
    }
}

pub type CmdResult = Result<(), Failure>;
