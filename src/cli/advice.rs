//! Advice for command lines that other tools' habits produce: `--src-tls-verify false` (a
//! boolean flag of airlift takes its value after `=`; with a space, `false` would become a
//! target name), and flags airlift does not have but skopeo, podman or oc-mirror users type
//! (`--insecure`, `--tls-verify`, `--dest-skip-tls`, …). Pure: reads the arguments, returns text.

use std::ffi::OsString;

/// Boolean flags whose value must follow `=`.
const EQUALS_FLAGS: &[&str] = &["--src-tls-verify", "--dest-tls-verify"];

/// Flags of other tools and what to use instead.
const FOREIGN: &[(&str, &str)] = &[
    (
        "--insecure",
        "--src-tls-verify=false and/or --dest-tls-verify=false (per side), or --cert-dir DIR for a private CA",
    ),
    (
        "--tls-verify",
        "--src-tls-verify=false and/or --dest-tls-verify=false (per side)",
    ),
    ("--src-skip-tls", "--src-tls-verify=false"),
    ("--dest-skip-tls", "--dest-tls-verify=false"),
    (
        "--skip-tls",
        "--src-tls-verify=false and/or --dest-tls-verify=false",
    ),
    (
        "--insecure-skip-tls-verify",
        "--src-tls-verify=false and/or --dest-tls-verify=false",
    ),
    (
        "--src-creds",
        "an auth file (--authfile FILE, or `podman login`)",
    ),
    (
        "--dest-creds",
        "an auth file (--authfile FILE, or `podman login`)",
    ),
    (
        "--src-cert-dir",
        "--cert-dir DIR (one directory of extra CAs for both sides)",
    ),
    (
        "--dest-cert-dir",
        "--cert-dir DIR (one directory of extra CAs for both sides)",
    ),
    (
        "--config",
        "-f RECIPE (convert an ImageSetConfiguration with `airlift import`)",
    ),
];

/// A usage error for `FLAG true|false` written with a space, before clap reads the line.
pub fn spaced_boolean(args: &[OsString]) -> Option<String> {
    args.windows(2).find_map(|w| {
        let (flag, value) = (w[0].to_str()?, w[1].to_str()?);
        (EQUALS_FLAGS.contains(&flag) && matches!(value, "true" | "false")).then(|| {
            format!(
                "`{flag} {value}`: write `{flag}={value}` with the `=` (a space would make `{value}` a separate argument)"
            )
        })
    })
}

/// A tip for an unknown flag that another tool has.
pub fn foreign_flag(args: &[OsString]) -> Option<String> {
    args.iter().find_map(|a| {
        let a = a.to_str()?;
        let name = a.split('=').next()?;
        FOREIGN
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(f, instead)| format!("airlift has no {f}: use {instead}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_boolean_flag_with_a_space_is_explained() {
        let m = spaced_boolean(&args(&["airlift", "build", "--src-tls-verify", "false"])).unwrap();
        assert!(m.contains("--src-tls-verify=false"), "{m}");
        assert!(spaced_boolean(&args(&["airlift", "build", "--dest-tls-verify=false"])).is_none());
        assert!(
            spaced_boolean(&args(&["airlift", "build", "--src-tls-verify", "mirror"])).is_none()
        );
    }

    #[test]
    fn flags_of_other_tools_get_the_airlift_equivalent() {
        let m = foreign_flag(&args(&["airlift", "build", "--insecure"])).unwrap();
        assert!(m.contains("--dest-tls-verify=false"), "{m}");
        let m = foreign_flag(&args(&["airlift", "--dest-skip-tls=true", "build"])).unwrap();
        assert!(m.contains("--dest-tls-verify=false"), "{m}");
        assert!(foreign_flag(&args(&["airlift", "build", "--jobs", "4"])).is_none());
    }
}
