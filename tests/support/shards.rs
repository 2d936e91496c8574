//! `airlift build --shard K/N` processes started at once, and what each says it copied.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs shards 1..=`n` of `bin` in `dir` at the same time (plain-HTTP loopback registries,
/// without the environment variables in `unset`) and waits for all of them.
pub fn shards_at_once(bin: &str, dir: &Path, n: u32, unset: &[&str]) -> Vec<Output> {
    let children: Vec<std::process::Child> = (1..=n)
        .map(|k| {
            let mut c = Command::new(bin);
            c.args(["--src-tls-verify=false", "--dest-tls-verify=false", "build"])
                .arg(format!("--shard={k}/{n}"))
                .current_dir(dir)
                .env("NO_COLOR", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for v in unset {
                c.env_remove(v);
            }
            c.spawn().expect("spawn a shard")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait for a shard"))
        .collect()
}

/// The number of images shard `k` of `n` says it copied (`build (shard K/N): N copied, …`);
/// panics with its output when it failed or printed no such line.
pub fn shard_copied(out: &Output, k: u32, n: u32) -> usize {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "shard {k}/{n} failed:\n{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("build (shard {k}/{n}): ")))
        .unwrap_or_else(|| panic!("no summary line:\n{err}"));
    line.split_once(": ")
        .and_then(|(_, rest)| rest.split_once(' '))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}
