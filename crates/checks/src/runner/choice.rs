//! Which implementation runs a testcase that has both a native check and a scope program.

/// `check --implementation`: whether native checks or the scope's programs decide a testcase.
///
/// SCS's own runner only runs the scope's programs; scs-kaas prefers its native checks. Choosing
/// lets a provider reproduce the reference's verdicts (`programs`) or never start a foreign
/// program (`native`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImplementationChoice {
    /// The native check where this build has one, else the scope's program.
    #[default]
    PreferNative,
    /// Native checks only; a testcase without one is missing (no program is started).
    Native,
    /// The scope's program where the scope names one; a native check only for a testcase whose
    /// scope names no program (a manual check in the reference).
    Programs,
}

impl ImplementationChoice {
    /// The command-line value (`prefer-native`, `native`, `programs`).
    pub fn as_str(self) -> &'static str {
        match self {
            ImplementationChoice::PreferNative => "prefer-native",
            ImplementationChoice::Native => "native",
            ImplementationChoice::Programs => "programs",
        }
    }
}
