//! Scope loading errors: always a place in the file and what to change there.

use std::fmt;

use super::yaml::Pos;

/// A scope file that cannot be used, with the position of the offending node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeError {
    /// The file name (or the built-in scope's name) the error is in.
    pub file: String,
    /// Where in the file; line 0 when the error concerns the whole file.
    pub pos: Pos,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ScopeError {
    /// An error at `pos` in `file`.
    pub fn new(file: impl Into<String>, pos: Pos, message: impl Into<String>) -> Self {
        ScopeError {
            file: file.into(),
            pos,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.pos, self.message)
        }
    }
}

impl std::error::Error for ScopeError {}
