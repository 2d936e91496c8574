//! `airlift list operators|packages`: discovery for people writing recipes.
//!
//! `list operators --catalog REF [--package P]` (also `list packages`): reads the catalog image
//! (same reader as build discovery) and prints its packages, or one package's channels with
//! their heads; `list bundles --catalog REF --package P [--channel C]` lists one package's bundles
//! per channel with heads and the default channel marked. Reads the source registry (or, for `--catalog oci://DIR`, an OCI image layout)
//! only; no recipe, workspace or lock is needed.

use super::GlobalOpts;
use crate::catalog::{render_bundles, render_package, render_packages};
use crate::discover::{fetch_catalog, fetch_layout};
use crate::exit::{CmdResult, Exit, Failure};
use crate::oci::ImageRef;

/// `list operators --catalog REF [--package P]`.
pub(crate) fn operators(
    global: &GlobalOpts,
    catalog: Option<&str>,
    package: Option<&str>,
) -> CmdResult {
    let Some(catalog) = catalog else {
        return Err(Failure::new(
            Exit::Usage,
            miette::miette!(
                help = "e.g. `airlift list operators --catalog registry.redhat.io/redhat/redhat-operator-index:v4.15`",
                "`list operators` needs --catalog REF"
            ),
        ));
    };
    let fetched = fetch(global, catalog)?;
    let text = match package {
        None => render_packages(&fetched.catalog),
        Some(p) => render_package(catalog, &fetched.catalog, p)
            .map_err(|e| Failure::new(Exit::InvalidInput, e))?,
    };
    print!("{text}");
    Ok(())
}

/// Reads the catalog `catalog` names: an image reference, or `oci://DIR`.
fn fetch(global: &GlobalOpts, catalog: &str) -> Result<crate::discover::FetchedCatalog, Failure> {
    let fetched = match catalog.strip_prefix("oci://") {
        Some(dir) => {
            let dir = std::path::Path::new(dir);
            let image = crate::plan::layout_reference(dir).map_err(|e| {
                Failure::new(
                    Exit::InvalidInput,
                    miette::miette!(
                        help = "give an OCI image layout directory such as oci://./catalogs/my-catalog",
                        "--catalog `{catalog}`: {e}"
                    ),
                )
            })?;
            fetch_layout(dir, &image, None).map_err(|e| {
                Failure::new(
                    Exit::Remote,
                    miette::miette!(
                        help = "give a directory holding an OCI image layout with one image (`skopeo copy --all docker://IMAGE oci:DIR:TAG` writes one)",
                        "{e}"
                    ),
                )
            })?
        }
        None => {
            let image: ImageRef = catalog.parse().map_err(|e| {
                Failure::new(
                    Exit::InvalidInput,
                    miette::miette!(
                        help = "give a catalog image reference such as registry.example.com/ns/index:v1, or oci://DIR for an OCI image layout",
                        "--catalog `{catalog}`: {e}"
                    ),
                )
            })?;
            let sides = global.options().sides()?;
            let rt = crate::pipeline::runtime()?;
            rt.block_on(fetch_catalog(&sides.source, &image, None))
                .map_err(|e| {
                    Failure::new(
                        Exit::Remote,
                        miette::miette!(
                            help = "check the reference, your credentials (--authfile) and the TLS flags",
                            "{e}"
                        ),
                    )
                })?
        }
    };
    Ok(fetched)
}

/// `list bundles --catalog REF --package P [--channel C]`.
pub(crate) fn bundles(
    global: &GlobalOpts,
    catalog: Option<&str>,
    package: Option<&str>,
    channel: Option<&str>,
) -> CmdResult {
    let (Some(catalog), Some(package)) = (catalog, package) else {
        return Err(Failure::new(
            Exit::Usage,
            miette::miette!(
                help = "e.g. `airlift list bundles --catalog registry.redhat.io/redhat/redhat-operator-index:v4.15 --package compliance-operator`",
                "`list bundles` needs --catalog REF and --package NAME"
            ),
        ));
    };
    let fetched = fetch(global, catalog)?;
    let text = render_bundles(catalog, &fetched.catalog, package, channel)
        .map_err(|e| Failure::new(Exit::InvalidInput, e))?;
    print!("{text}");
    Ok(())
}
