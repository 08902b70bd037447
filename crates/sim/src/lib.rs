//! A simulated Kubernetes API server driven by scenario files: the scs-kaas test bed and demo.
//!
//! It speaks the real Kubernetes REST API over HTTPS so that `kubectl` and the `kube` crate work
//! against it unchanged. It is never used to judge a real provider. Start it with
//! [`server::start`].

pub mod auth;
pub mod commands;
pub mod controllers;
pub mod defaults;
pub mod discovery;
pub mod kubeconfig;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod rbac;
pub mod resources;
pub mod runner;
pub mod scenario;
pub mod selector;
pub mod server;
pub mod status;
pub mod store;
pub mod table;
pub mod tls;
pub mod tokens;
pub mod volume_files;
pub mod watch;
pub mod world;
