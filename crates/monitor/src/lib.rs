//! The scs-kaas compliance monitor: SCS-compatible report API, status pages, badges and metrics.
