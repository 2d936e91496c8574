//! `airlift extract TARGET --release VERSION --command openshift-install|oc`: a tool out of a
//! release the target holds, checked all the way down. The payload at the target must be the
//! one `airlift.lock` pins. Its `image-references` names the component, which is fetched from
//! the target by that digest. Every layer is verified against its digest while it is spooled to
//! a temporary file, so memory stays flat whatever the layer size. The file is written
//! atomically with its mode; the installer gets the mirrored payload as its release image.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};

use super::{Options, Session, runtime};
use crate::exit::{Exit, Failure};
use crate::oci::{Digest, ImageRef};
use crate::plan::{release_component, release_payload};
use crate::registry::RegistryClient;
use crate::release::extract::{self as tools, Tool};

/// What was extracted, for the summary line.
pub struct Extraction {
    pub path: PathBuf,
    pub bytes: u64,
    pub payload: ImageRef,
    pub component: ImageRef,
    /// The installer's release image was set to the mirrored payload.
    pub release_image_set: bool,
}

/// Extracts `command` of release `version` (`arch`) from `target` into `to`.
pub fn extract(
    options: &Options,
    target: &str,
    version: &str,
    command: &str,
    arch: &str,
    to: &Path,
) -> Result<Extraction, Failure> {
    let tool = tools::tool(command).ok_or_else(|| {
        let known: Vec<&str> = tools::TOOLS.iter().map(|t| t.command).collect();
        Failure::new(
            Exit::Usage,
            miette::miette!(
                help = format!("--command takes one of: {}", known.join(", ")),
                "unknown command `{command}`"
            ),
        )
    })?;
    let session = Session::open(options)?;
    let goal = session.registry_goal(target, "extract")?;
    let Some(lock) = session.read_lock()? else {
        return Err(Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = "run `airlift build` first: extract reads a release the target holds",
                "{} does not exist",
                session.lock_path.display()
            ),
        ));
    };
    let remote = |e: &dyn miette::Diagnostic, what: &str| {
        Failure::new(
            Exit::Remote,
            miette::miette!(
                help = e.help().map_or_else(
                    || "check the target registry".to_string(),
                    |h| h.to_string()
                ),
                "{what}: {e}"
            ),
        )
    };
    let naming =
        |e: crate::plan::NamingError| Failure::new(Exit::InvalidInput, miette::Report::new(e));
    let tagged = release_payload(&goal.dest, version, arch).map_err(naming)?;
    let client = session.sides(options)?.dest;
    let rt = runtime()?;
    rt.block_on(async {
        let top = client.get_manifest(&tagged).await.map_err(|e| {
            remote(
                &e,
                &format!("release {version} ({arch}) is not at target `{target}` ({tagged})"),
            )
        })?;
        if !lock.images.iter().any(|i| i.digest == top.digest) {
            return Err(Failure::new(
                Exit::Verification,
                miette::miette!(
                    help = "run `airlift build` to put the locked release back, or `airlift update` if the newer one is wanted",
                    "{tagged} holds {}, which airlift.lock does not pin",
                    top.digest
                ),
            ));
        }
        let payload = tagged.repository().with_digest(top.digest.clone());
        let layers = spool_layers(&client, &payload, arch).await?;
        let bad = |e: crate::release::PayloadError| {
            Failure::new(Exit::Verification, miette::Report::new(e))
        };
        let mut reader = crate::release::PayloadReader::new();
        for layer in layers {
            reader.add_layer(layer).map_err(bad)?;
        }
        let components = reader.finish(arch, false).map_err(bad)?.components;
        let Some(source) = components.get(tool.component) else {
            return Err(Failure::new(
                Exit::InvalidInput,
                miette::miette!(
                    help = "the payload does not ship this tool for this architecture",
                    "release {version} names no `{}` component",
                    tool.component
                ),
            ));
        };
        let digest = source.digest().cloned().ok_or_else(|| {
            Failure::new(
                Exit::Verification,
                miette::miette!("the payload's `{}` component is not pinned", tool.component),
            )
        })?;
        let component = release_component(&goal.dest, version, arch, tool.component)
            .map_err(naming)?
            .repository()
            .with_digest(digest);
        let layers = spool_layers(&client, &component, arch).await?;
        write_tool(tool, layers, &payload, &component, to)
    })
}

fn write_tool(
    tool: Tool,
    layers: Vec<std::fs::File>,
    payload: &ImageRef,
    component: &ImageRef,
    to: &Path,
) -> Result<Extraction, Failure> {
    let found = tools::file_from_layers(layers, tool.path)
        .map_err(|e| Failure::new(Exit::Verification, miette::Report::new(e)))?;
    let Some(mut file) = found else {
        return Err(Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = "the component image does not hold the tool where the payload puts it",
                "{component} has no /{}",
                tool.path
            ),
        ));
    };
    let release_image_set = tool.component == "installer"
        && tools::set_release_image(&mut file.bytes, &payload.to_string())
            .map_err(|e| Failure::new(Exit::InvalidInput, miette::Report::new(e)))?;
    let io = |e: std::io::Error| Failure::io(format!("cannot write into {}: {e}", to.display()));
    std::fs::create_dir_all(to).map_err(io)?;
    let path = to.join(tool.command);
    let mut tmp = tempfile::Builder::new()
        .prefix(".airlift-")
        .suffix(".tmp")
        .tempfile_in(to)
        .map_err(io)?;
    tmp.write_all(&file.bytes).map_err(io)?;
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(file.mode & 0o7777))
        .map_err(io)?;
    tmp.persist(&path).map_err(|e| io(e.error))?;
    Ok(Extraction {
        path,
        bytes: file.bytes.len() as u64,
        payload: payload.clone(),
        component: component.clone(),
        release_image_set,
    })
}

/// The layers of `image` for `arch` (the matching child of an index), each spooled to an
/// anonymous temporary file and checked against its digest.
async fn spool_layers(
    client: &RegistryClient,
    image: &ImageRef,
    arch: &str,
) -> Result<Vec<std::fs::File>, Failure> {
    let fail = |what: String| Failure::new(Exit::Remote, miette::miette!("{image}: {what}"));
    let registry = image.registry().to_string();
    let top = client
        .get_manifest(image)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let manifest = if top.is_index() {
        let doc = top.doc(&registry).map_err(|e| fail(e.to_string()))?;
        let want = if arch == "multi" { "amd64" } else { arch };
        let child = doc
            .manifests
            .iter()
            .find(|m| m.platform.as_ref().is_some_and(|p| p.architecture == want))
            .ok_or_else(|| fail(format!("the index has no linux/{want} image")))?;
        client
            .get_manifest(&image.repository().with_digest(child.digest.clone()))
            .await
            .map_err(|e| fail(e.to_string()))?
    } else {
        top
    };
    let doc = manifest.doc(&registry).map_err(|e| fail(e.to_string()))?;
    let mut files = Vec::new();
    for layer in &doc.layers {
        let io = |e: std::io::Error| Failure::io(format!("cannot spool a layer of {image}: {e}"));
        let mut file = tempfile::tempfile().map_err(io)?;
        let mut stream = client
            .get_blob(image.repository(), &layer.digest)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let mut hash = Sha256::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| fail(e.to_string()))?;
            hash.update(&chunk);
            file.write_all(&chunk).map_err(io)?;
        }
        if Digest::from_sha256(hash.finalize().into()) != layer.digest {
            return Err(Failure::new(
                Exit::Verification,
                miette::miette!(
                    help = "the registry returned other bytes; `airlift verify` checks the target",
                    "{image}: layer {} does not match its digest",
                    layer.digest
                ),
            ));
        }
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        files.push(file);
    }
    Ok(files)
}
