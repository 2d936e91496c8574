//! `airlift list releases [--channel C] [--arch A]`: the versions of one channel, or the
//! channels known from update graphs (like `oc mirror list releases`). Data on stdout.
//!
//! The update service is the recipe's first `update-url` (when a recipe is present), else
//! `UPDATE_URL_OVERRIDE`, else Red Hat's. Responses are stored in the workspace's graph cache;
//! `--offline` reads stored responses only. `list operators|packages`: see `list_operators.rs`.

use std::collections::BTreeSet;

use super::GlobalOpts;
use crate::exit::{CmdResult, Exit, Failure};
use crate::recipe::{self, Recipe};
use crate::release::{
    FetchError, GraphCache, GraphClient, UPDATE_URL_ENV, UpdateGraph, graph_url, list_channels,
    list_versions,
};
use crate::state::Workspace;

pub(crate) fn releases(
    global: &GlobalOpts,
    channel: Option<&str>,
    arch: Option<&str>,
) -> CmdResult {
    let arch = arch.unwrap_or("amd64");
    let recipe: Option<Recipe> = if global.recipe.is_file() {
        Some(recipe::load(&global.recipe).map_err(|e| Failure::new(Exit::InvalidInput, e))?)
    } else {
        None
    };
    let workspace = Workspace::for_recipe(&global.recipe, global.workspace.as_deref());
    let cache = GraphCache::new(workspace.root().join("cache").join("graphs"));
    let configured = recipe
        .as_ref()
        .and_then(|r| r.releases().find_map(|s| s.update_url.as_ref()))
        .map(|u| u.value.clone());
    let url = graph_url(
        configured.as_deref(),
        std::env::var(UPDATE_URL_ENV).ok().as_deref(),
    );
    let client = GraphClient::with(global.options().web()?);
    let load = |channel: &str| -> Result<UpdateGraph, FetchError> {
        if global.offline {
            cache.load(channel, arch)
        } else {
            client.fetch_graph(&url, &cache, channel, arch)
        }
    };
    let fail = |e: FetchError| {
        let help = miette::Diagnostic::help(&e)
            .map(|h| h.to_string())
            .unwrap_or_else(|| "check the channel name and the update service URL".to_string());
        Failure::new(Exit::Remote, miette::miette!(help = help, "{e}"))
    };
    if let Some(channel) = channel {
        let graph = load(channel).map_err(fail)?;
        print!("{}", list_versions(&graph));
        return Ok(());
    }
    // Channels: those the recipe names (fetched unless --offline) and every stored response.
    let named: BTreeSet<String> = recipe
        .as_ref()
        .map(|r| {
            r.releases()
                .flat_map(|s| s.channels.iter().map(|c| c.name.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut graphs = Vec::new();
    if !global.offline {
        for c in &named {
            graphs.push(load(c).map_err(fail)?);
        }
    }
    match cache.load_all() {
        Ok(stored) => graphs.extend(stored),
        Err(e) if graphs.is_empty() => return Err(fail(e)),
        Err(_) => {}
    }
    if graphs.is_empty() {
        return Err(Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = "name one with --channel (e.g. --channel stable-4.16), or add release sets to the recipe",
                "no update graph is known to list channels from"
            ),
        ));
    }
    print!("{}", list_channels(&graphs));
    Ok(())
}
