//! `airlift extract TARGET --release V --command openshift-install|oc [--arch A] [--to DIR]`:
//! calls `pipeline::extract` and prints what it wrote.

use std::path::Path;

use super::GlobalOpts;
use crate::exit::CmdResult;

pub(crate) fn run(
    global: &GlobalOpts,
    target: &str,
    release: &str,
    command: &str,
    arch: &str,
    to: &Path,
) -> CmdResult {
    let options = global.options();
    let e = crate::pipeline::extract::extract(&options, target, release, command, arch, to)?;
    if !global.quiet {
        eprintln!(
            "extracted {} ({} bytes) from {} (release {release}, payload {})",
            e.path.display(),
            e.bytes,
            e.component,
            e.payload
        );
        if e.release_image_set {
            eprintln!("it installs {} (the mirrored payload)", e.payload);
        }
    }
    println!("{}", e.path.display());
    Ok(())
}
