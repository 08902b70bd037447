//! Exit codes: part of the contract with scripts and CI pipelines.

#[allow(dead_code)] // used by subcommands once wired
/// Every selected main-target testcase passed (or the command succeeded).
pub const OK: u8 = 0;
/// At least one testcase failed, or the command's judgement is negative.
#[allow(dead_code)] // used by `check` and `versions` once wired
pub const FAILED: u8 = 1;
/// Usage or configuration error: bad arguments, unreadable files, invalid input.
pub const USAGE: u8 = 2;
/// Nothing failed, but some testcases aborted or are missing: not a pass.
#[allow(dead_code)] // used by `check` once wired
pub const INCOMPLETE: u8 = 3;

/// `check`/`demo` stopped by SIGINT (Ctrl-C), after removing the probe objects (128 + 2).
pub const INTERRUPTED: u8 = 130;
/// Standard output was closed by its reader (`| head -1`): output ended quietly, as a tool
/// killed by SIGPIPE reports in a shell (128 + 13). A requested `--report` is written first.
pub const BROKEN_PIPE: u8 = 141;
/// `check`/`demo` stopped by SIGTERM, after removing the probe objects (128 + 15).
pub const TERMINATED: u8 = 143;

/// The exit-code table shown at the end of `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success; for `check`: every main-target (else every selected) testcase passed
  1  a testcase failed, or the judgement is negative (e.g. a refused version)
  2  usage or configuration error (bad arguments, unreadable or invalid input)
  3  `check`: nothing failed, but some testcases aborted or are missing
  130  `check`, `demo`: stopped by Ctrl-C (SIGINT) after removing probe objects; no report
  141  stdout closed by its reader (`head -1`): output ended quietly, --report still written
  143  `check`, `demo`: stopped by SIGTERM, likewise";
