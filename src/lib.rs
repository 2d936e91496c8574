//! airlift: mirror container content into disconnected Kubernetes and OpenShift clusters.
//!
//! The pipeline is discover → plan → execute (see `book/src/concepts/pipeline.md`), in
//! [`pipeline`]; cluster resources and the lock are written by tasks of the plan.
//! `main.rs` is a thin clap front end over [`cli`].

pub mod archive;
pub mod catalog;
pub mod cli;
pub mod discover;
pub mod exec;
pub mod exit;
pub mod helm;
pub mod html;
pub mod import;
pub mod oci;
pub mod pipeline;
pub mod plan;
pub mod recipe;
pub mod registry;
pub mod release;
pub mod resources;
pub mod state;
pub mod store;
pub mod task;
pub mod trust;
pub mod web;
