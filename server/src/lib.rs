//! tessera-server: Tessera's self-hostable directory of cards, encrypted key backups,
//! group tickets and the hash-chained operation log, over the HTTP API of docs/API.md.
//!
//! Layout: [`config`] and [`data_dir`] (settings and the `init` directory), [`server`]
//! (router, middleware, serving and shutdown), [`api`] (one module per resource),
//! [`auth`] (bearer tokens), [`limits`] (rate limits), [`storage`] (one trait, SQLite
//! and PostgreSQL), [`log_chain`] (the log's hashes, docs/LOG.md), [`metrics`] and
//! [`error`], [`hex`]. Running and deploying it: docs/SERVER.md.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod config;
pub mod data_dir;
pub mod error;
pub mod hex;
pub mod limits;
pub mod log_chain;
pub mod metrics;
pub mod server;
mod sharded_map;
pub mod storage;

pub use config::{AppPublicKey, Config, Limits};
pub use server::{RunningServer, spawn};
