//! Task keys: sha256 of the canonical JSON of a versioned task description.
//!
//! Canonical JSON here is `serde_json` output of a `serde_json::Value` built from `BTreeMap`s
//! (keys sorted, no whitespace). Bump [`KEY_VERSION`] whenever the meaning of a task's output
//! changes, so every recorded task becomes dirty with reason "parameters changed".

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::oci::Digest;

pub const KEY_VERSION: u32 = 1;

/// A task key: the identity of a task's work, independent of when and where it ran.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TaskKey(String);

impl TaskKey {
    /// Hashes `kind`, the key version, the input digests and the parameters.
    pub fn compute(kind: &str, inputs: &[&Digest], params: &Value) -> Self {
        let mut inputs: Vec<String> = inputs.iter().map(|d| d.to_string()).collect();
        inputs.sort();
        let doc = serde_json::json!({
            "inputs": inputs,
            "kind": kind,
            "params": params,
            "version": KEY_VERSION,
        });
        // `Value`'s Display is serde_json's compact form; it cannot fail (keys are strings).
        let canonical = doc.to_string();
        TaskKey(Digest::of(canonical.as_bytes()).hex().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_recorded(s: &str) -> Self {
        TaskKey(s.to_string())
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskKey({})", &self.0[..12.min(self.0.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_and_order_independent() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let p = serde_json::json!({"dest": "r/x:1", "platforms": ["amd64"]});
        let k1 = TaskKey::compute("copy", &[&a, &b], &p);
        let k2 = TaskKey::compute("copy", &[&b, &a], &p);
        assert_eq!(k1, k2);
        insta::assert_snapshot!(k1.as_str(), @"887df8283b3956e0f93dc754a44c426dbbef1d8a7c4a3fc82922df0fb0af1425");
    }

    #[test]
    fn key_changes_with_every_component() {
        let a = Digest::of(b"a");
        let p = serde_json::json!({"dest": "r/x:1"});
        let base = TaskKey::compute("copy", &[&a], &p);
        assert_ne!(base, TaskKey::compute("pack", &[&a], &p));
        assert_ne!(base, TaskKey::compute("copy", &[&Digest::of(b"b")], &p));
        assert_ne!(
            base,
            TaskKey::compute("copy", &[&a], &serde_json::json!({"dest": "r/x:2"}))
        );
    }
}
