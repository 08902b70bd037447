//! Scopes embedded in the binary, so `check` works without any file and `scope export` can hand
//! them to a monitor's scope directory.

use super::{Scope, ScopeError};

/// A scope shipped inside the binary.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The name users pass to `--scope`.
    pub name: &'static str,
    /// One line saying what it is for.
    pub summary: &'static str,
    /// The YAML text, exactly as exported.
    pub yaml: &'static str,
}

/// The official SCS KaaS scope, verbatim from SovereignCloudStack/standards (2026-06-22 revision).
pub const SCS_COMPATIBLE_KAAS: Builtin = Builtin {
    name: "scs-compatible-kaas",
    summary: "the official SCS-compatible KaaS scope (default)",
    yaml: include_str!("../../../../scopes/scs-compatible-kaas.yaml"),
};

/// Our own scope listing the native checks beyond the official scope.
pub const SCS_KAAS_EXTENDED: Builtin = Builtin {
    name: "scs-kaas-extended",
    summary: "all native checks of scs-kaas (standards in `main`, practices in `preview`)",
    yaml: include_str!("../../../../scopes/scs-kaas-extended.yaml"),
};

/// Every built-in scope; the first is the default of `check`.
pub const ALL: [Builtin; 2] = [SCS_COMPATIBLE_KAAS, SCS_KAAS_EXTENDED];

/// The built-in scope with this name.
pub fn find(name: &str) -> Option<Builtin> {
    ALL.into_iter().find(|b| b.name == name)
}

impl Builtin {
    /// Parse the embedded YAML (tests guarantee it parses).
    pub fn load(&self) -> Result<Scope, ScopeError> {
        Scope::parse(&format!("<built-in {}>", self.name), self.yaml)
    }
}
