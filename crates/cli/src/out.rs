//! Standard output through one writer: a reader that goes away (`scs-kaas demo | head -1`) ends
//! the output quietly instead of a panic ("failed printing to stdout: Broken pipe").
//!
//! Every subcommand prints with [`out!`]/[`outln!`]. The first failed write latches: later
//! output is dropped, the command still finishes its work (a requested `--report` is written,
//! a `cleanup` is not cut in half), and `main` then exits with
//! [`exit::BROKEN_PIPE`](crate::exit::BROKEN_PIPE) (a closed pipe, without a message) or names
//! any other write failure.

use std::io::Write;
use std::sync::Mutex;

/// The first write failure, if any (`None`: standard output works).
static FAILED: Mutex<Option<std::io::ErrorKind>> = Mutex::new(None);

/// Write `args` to standard output and flush, unless an earlier write failed; a failure is
/// remembered for [`failure`].
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
    if failed.is_some() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        *failed = Some(err.kind());
    }
}

/// Why standard output stopped taking output, if it did.
pub fn failure() -> Option<std::io::ErrorKind> {
    *FAILED.lock().unwrap_or_else(|e| e.into_inner())
}

/// `print!` that never panics: see [`write`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write(format_args!($($arg)*))
    };
}

/// `println!` that never panics: see [`write`].
macro_rules! outln {
    () => {
        $crate::out::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}
