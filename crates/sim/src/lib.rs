//! A simulated Kubernetes API server driven by scenario files: the scs-kaas test bed and demo.
//!
//! It speaks the real Kubernetes REST API over HTTPS so that `kubectl` and the `kube` crate work
//! against it unchanged. It is never used to judge a real provider.

pub mod world;
