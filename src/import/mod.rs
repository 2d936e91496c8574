//! `airlift import`: oc-mirror ImageSetConfiguration and DeleteImageSetConfiguration files
//! (`v1alpha2`, `v2alpha1`) to recipes. Pure: YAML text in, KDL text and warnings out.

mod convert;
mod isc;
mod locate;
mod sets;

pub use convert::{Direction, ImportError, ImportErrors, Imported, Warning, import};

/// True when `text` looks like an oc-mirror image set (a `kind:` line naming one): what
/// `airlift check/plan/build -f FILE` says instead of KDL syntax errors.
pub fn is_image_set(text: &str) -> Option<&'static str> {
    text.lines().find_map(|l| {
        let l = l.trim();
        let kind = l.strip_prefix("kind:")?.trim().trim_matches(['"', '\'']);
        match kind {
            "ImageSetConfiguration" => Some("ImageSetConfiguration"),
            "DeleteImageSetConfiguration" => Some("DeleteImageSetConfiguration"),
            _ => None,
        }
    })
}
