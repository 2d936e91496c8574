//! `airlift extract TARGET --release VERSION --command openshift-install|oc`: a tool out of a
//! release the target holds, checked all the way down. The payload at the target must be the
//! one `airlift.lock` pins. Its `image-references` names the component, which is fetched from
//! the target by that digest. Every layer is verified against its digest while it is spooled to
//! a temporary file, so memory stays flat whatever the layer size. The file is written
//! atomically with its mode; the installer gets the mirrored payload as its release image.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Options, Session, runtime};
use crate::exit::{Exit, Failure};
use crate::oci::ImageRef;
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
        let components = crate::release::read_payload_from(layers, arch, false)
            .map_err(bad)?
            .components;
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

/// The layers of `image` for `arch`, spooled and verified (see `discover::image_layers`).
async fn spool_layers(
    client: &RegistryClient,
    image: &ImageRef,
    arch: &str,
) -> Result<Vec<std::fs::File>, Failure> {
    use crate::discover::SpoolError;
    crate::discover::image_layers(client, image, arch, false)
        .await
        .map_err(|e| match e {
            SpoolError::Mismatch(m) => Failure::new(
                Exit::Verification,
                miette::miette!(
                    help = "`airlift verify TARGET` checks what the target holds; `airlift build` repairs it",
                    "{image}: {m}"
                ),
            ),
            SpoolError::Registry(r) => Failure::new(Exit::Remote, miette::Report::new(r)),
            SpoolError::Shape(m) => Failure::new(
                Exit::InvalidInput,
                miette::miette!(help = "pass --arch with one of the architectures it has", "{m}"),
            ),
        })
}
