//! containers-registries.conf(5) for reads: which places airlift reads an image from (mirrors,
//! `location` rewrites) and which it must not read at all (`blocked`). The file is the one
//! `--registries-conf` (or `$CONTAINERS_REGISTRIES_CONF`) names; nothing else is ever read, so a
//! machine's `/etc/containers/registries.conf` cannot change a build behind the user's back.
//! Pure: [`RegistriesConf::load`] reads that one file, and nothing here touches the network.
//!
//! Why it is applied here by hand: skopeo and podman get these rules from containers/image,
//! which does the redirecting inside its own registry client. airlift has its own client (see
//! the module header of `registry/`), so the same rules are implemented here, following
//! containers/image's `pkg/sysregistriesv2` and its docker image source:
//! - Version 2 `[[registry]]` tables, and the version 1 `[registries.search]`,
//!   `[registries.insecure]` and `[registries.block]` lists, converted to version 2 entries as
//!   containers/image converts them (blocked first, then insecure; `prefix` = `location`).
//!   Both versions in one file is an error.
//! - The entry whose `prefix` is the longest match of the repository name applies; a prefix
//!   matches when the name starts with it and continues with nothing, `/`, `:` or `@`, and
//!   `*.example.com` matches any subdomain of example.com. Of two entries with the same prefix
//!   the first in the file counts.
//! - The sources of a read are the entry's mirrors that serve that kind of read, in file order,
//!   then the primary: the entry's `location` with the matched prefix replaced, or the name
//!   itself. Each source carries its own `insecure`.
//! - `blocked = true` forbids reading the primary, not the mirrors: containers/image checks
//!   `blocked` when it connects to each source, against the entry that source's own name
//!   matches, so a blocked source with mirrors is read from its mirrors only (OpenShift's
//!   `NeverContactSource` is written exactly so). airlift also refuses the primary of a
//!   blocked entry whose `location` points elsewhere, which is what `blocked` says.
//!
//! Deliberate differences: an unknown key is an error (containers/image ignores it, so a typo
//! silently does nothing), a `*` anywhere but a leading `*.` is an error, and a `location` must
//! be a repository name (`host[:port][/path]`) when the file is loaded rather than when an image
//! is read. Short-name settings (`unqualified-search-registries`, `short-name-mode`,
//! `[aliases]`) and credential settings (`credential-helpers`,
//! `additional-layer-store-auth-helper`) are checked for their type and otherwise ignored:
//! airlift reads fully qualified names only and takes credentials from its auth file.

mod error;
mod parse;
mod sources;
#[cfg(test)]
mod tests;

pub use error::{ConfError, ConfErrorKind};
pub use sources::{PullBy, PullSource, RegistriesConf, SourceError};
