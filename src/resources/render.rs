//! `render`: every cluster-resource file of one target from what it holds.
//!
//! Pure function of ([`MirroredImage`] list, [`ResourceOptions`]): input order does not matter,
//! the result is byte-identical on every run. Files are only written by [`super::write_dir`].

use super::group::group;
use super::model::{MirroredImage, Rendered, ResourceError, ResourceOptions};
use super::{icsp, idms, install_config, registries_conf};

/// Renders the IDMS/ITMS documents, the optional ICSP, `registries.conf` and the
/// install-config snippet. Categories without entries produce no file; no images → no files.
///
/// Errors: a scope widening that would redirect a source to a mirror that does not hold it
/// ([`ResourceError::WideningRefused`], [`ResourceError::RenamedUnderScope`]), or a mirror
/// whose digest differs from its source ([`ResourceError::DigestMismatch`]).
pub fn render(images: &[MirroredImage], opts: &ResourceOptions) -> Result<Rendered, ResourceError> {
    let grouped = group(images, opts)?;
    let mut rendered = Rendered {
        notes: grouped.notes.clone(),
        ..Rendered::default()
    };
    for (name, text) in idms::render(&grouped, opts)? {
        rendered.files.insert(name, text.into_bytes());
    }
    if opts.icsp
        && let Some(text) = icsp::render(&grouped, opts)?
    {
        rendered
            .files
            .insert(icsp::FILE.to_string(), text.into_bytes());
    }
    if let Some(text) = registries_conf::render(&grouped, opts) {
        rendered
            .files
            .insert(registries_conf::FILE.to_string(), text.into_bytes());
    }
    if let Some(text) = install_config::render(&grouped, opts)? {
        rendered
            .files
            .insert(install_config::FILE.to_string(), text.into_bytes());
    }
    Ok(rendered)
}
