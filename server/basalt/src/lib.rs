//! Basalt: a Parse-compatible Backend-as-a-Service in one binary.
//!
//! A request flows router → handler (`http/routes`) → `rest::` (Parse semantics) → schema
//! and storage; see `../../shared/DESIGN.md` for the architecture.

pub mod auth;
pub mod cloud;
pub mod clp;
pub mod config;
pub mod error;
pub mod http;
pub mod ids;
pub mod realtime;
pub mod rest;
pub mod schema;
pub mod state;
pub mod storage;
