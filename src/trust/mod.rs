//! Trust: verifying what airlift mirrors before it is mirrored.
//!
//! - OpenShift release signatures: OpenPGP signed messages over a simple-signing document,
//!   fetched from a signature store ([`SignatureStore`]) and checked against a keyring
//!   ([`Keyring`], [`verify_release`]).
//! - cosign key-based signatures of images ([`CosignKey`], [`verify_cosign`]).
//!
//! Verification is pure; only [`SignatureStore::fetch`], [`store::save`] and the key loaders do
//! I/O. This module does not read recipes, talk to registries or render cluster resources.

mod cosign;
mod error;
mod keyring;
mod release;
mod simple_signing;
pub mod store;

pub use cosign::{CosignKey, SIGNATURE_ANNOTATION, verify_cosign};
pub use error::{SignatureFailure, SignatureProblem, TrustError};
pub use keyring::Keyring;
pub use release::{FetchedSignature, VerifiedRelease, verify_release, verify_signed_message};
pub use simple_signing::{COSIGN_SIGNING_TYPE, SIMPLE_SIGNING_TYPE, SimpleSigning};
pub use store::{
    DEFAULT_SIGNATURE_STORE, MAX_SIGNATURES, SIGNATURE_URL_ENV, SignatureStore, fetch_and_verify,
};
