//! Test support shared by the integration tests: a real CNCF distribution registry on loopback
//! (optionally TLS and htpasswd), a fixture builder that pushes synthetic images with its own
//! minimal HTTP code (never airlift's `src/registry`, so tests check airlift against an
//! independent writer), a fault-injecting proxy and a `skopeo` wrapper.
//!
//! Use it from an integration test with `mod support;`. Nothing here reaches beyond 127.0.0.1.
//! A missing `docker-registry`, `skopeo` or `openssl` binary is a panic that says what to
//! install, never a silent skip.

#![allow(dead_code, unused_imports)]

pub mod clients;
pub mod cosign;
pub mod crds;
pub mod fixture;
pub mod gpg;
pub mod graph_server;
pub mod http;
pub mod proxy;
pub mod registry;
pub mod shards;
pub mod sides;
pub mod skopeo;
mod tls;

pub use fixture::{Fixture, Format, Layer, Pushed};
pub use proxy::{FaultProxy, ProxyOptions};
pub use registry::{Registry, RegistryOptions};
pub use skopeo::{SkopeoAuth, skopeo_inspect_raw};
