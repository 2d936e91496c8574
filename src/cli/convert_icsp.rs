//! `airlift convert-icsp FILE… [--dest-dir DIR]`: ImageContentSourcePolicy files →
//! ImageDigestMirrorSet files, like `oc adm migrate icsp` (`-` reads stdin, so
//! `oc get imagecontentsourcepolicy -o yaml | airlift convert-icsp -` works): one
//! `imagedigestmirrorset_<name>.yaml` per input file, `<name>` being its first object's name.
//!
//! Reads every input and converts it before writing anything, so a bad file leaves the
//! destination untouched. Prints one `wrote ImageDigestMirrorSet to PATH` line per file on
//! stdout. Exit codes: invalid input → `InvalidInput`, unreadable or unwritable file → `Io`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::exit::{CmdResult, Exit, Failure};
use crate::resources::{ConvertError, convert_icsp_objects, join_documents};

/// Several input files failed; each diagnostic is shown.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{count} input files could not be converted; nothing was written")]
#[diagnostic(help("fix each file as described below and run the command again"))]
struct ManyErrors {
    count: usize,
    #[related]
    errors: Vec<ConvertError>,
}

pub(crate) fn run(files: &[PathBuf], dest_dir: Option<&Path>) -> CmdResult {
    if files.is_empty() {
        return Err(Failure::new(
            Exit::Usage,
            miette::miette!(
                help = "name the ImageContentSourcePolicy YAML files: `airlift convert-icsp icsp.yaml …`",
                "no input files"
            ),
        ));
    }
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut errors = Vec::new();
    for file in files {
        let shown = file.display().to_string();
        let text = if shown == "-" {
            let mut t = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut t).map_err(|e| {
                Failure::new(
                    Exit::Io,
                    miette::miette!(help = "pipe YAML text into it", "could not read stdin: {e}"),
                )
            })?;
            Ok(t)
        } else {
            fs::read_to_string(file)
        };
        let text = text.map_err(|e| {
            Failure::new(
                Exit::Io,
                miette::miette!(
                    help = "check that the file exists and is readable UTF-8 text",
                    "could not read {shown}: {e}"
                ),
            )
        })?;
        match convert_icsp_objects(&text, &shown) {
            Ok(objects) => {
                // Like `oc adm migrate icsp`: one output file per input file, named after its
                // first object (without oc's random number, so reruns overwrite).
                let Some(first) = objects.first() else {
                    continue;
                };
                let file_name = format!("imagedigestmirrorset_{}.yaml", first.name);
                if let Some((other, _)) = out.get(&file_name) {
                    return Err(Failure::new(
                        Exit::InvalidInput,
                        miette::miette!(
                            help = "both would be written to {file_name}; rename the first object of one file, or convert them in separate runs with different --dest-dir",
                            "{other} and {shown} both start with ImageContentSourcePolicy `{}`",
                            first.name
                        ),
                    ));
                }
                let docs: Vec<String> = objects.into_iter().map(|c| c.yaml).collect();
                out.insert(file_name, (shown.clone(), join_documents(&docs)));
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.len() == 1
        && let Some(e) = errors.pop()
    {
        return Err(Failure::new(Exit::InvalidInput, e));
    }
    if !errors.is_empty() {
        return Err(Failure::new(
            Exit::InvalidInput,
            ManyErrors {
                count: errors.len(),
                errors,
            },
        ));
    }
    let dir = dest_dir.unwrap_or(Path::new("."));
    let io_fail = |what: &str, path: &Path, e: std::io::Error| {
        Failure::new(
            Exit::Io,
            miette::miette!(
                help = "check that the destination directory is writable",
                "could not {what} {}: {e}",
                path.display()
            ),
        )
    };
    fs::create_dir_all(dir).map_err(|e| io_fail("create", dir, e))?;
    let mut stdout = std::io::stdout().lock();
    for (file_name, (_, yaml)) in &out {
        let path = dir.join(file_name);
        crate::state::write_atomic(&path, yaml.as_bytes())
            .map_err(|e| io_fail("write", &path, e))?;
        let _ = writeln!(stdout, "wrote ImageDigestMirrorSet to {}", path.display());
    }
    Ok(())
}
