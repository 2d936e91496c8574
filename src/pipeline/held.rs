//! What a target holds without discovery (`airlift resources`, `airlift verify`): its goal
//! with the releases of stored graph responses and payload reads and the catalog images the
//! lock records, and its cluster resources rendered from that. No network.

use std::collections::BTreeSet;

use super::release::with_stored_releases;
use super::{Options, Session, source_date_epoch};
use crate::exit::{Exit, Failure};
use crate::oci::ImageRef;
use crate::plan::{self, GoalItem, Outputs, TargetGoal};
use crate::resources::{Category, RenderedTarget, render_held};
use crate::state::{Journal, LockFile};

/// `goal` with every item the target holds, known without network: release items from
/// stored responses, catalog items from the lock.
pub fn offline_goal(
    session: &Session,
    goal: &TargetGoal,
    lock: Option<&LockFile>,
) -> Result<TargetGoal, Failure> {
    let mut goal = with_stored_releases(session, goal)?;
    let extra = catalog_items_from_lock(&goal, lock);
    goal.items.extend(extra);
    Ok(goal)
}

/// Bundle and related images of the goal's catalogs that the lock records (the goal itself
/// only carries them after catalog discovery, which `airlift resources` does not run).
fn catalog_items_from_lock(goal: &TargetGoal, lock: Option<&LockFile>) -> Vec<GoalItem> {
    let Some(lock) = lock else {
        return Vec::new();
    };
    let known: BTreeSet<&ImageRef> = goal.items.iter().map(|i| &i.origin).collect();
    let mut out: Vec<GoalItem> = Vec::new();
    for c in &goal.catalogs {
        for l in lock.images.iter().filter(|l| l.set == c.set) {
            if l.source == c.source || known.contains(&l.source) {
                continue;
            }
            let mut item = GoalItem::image(&c.set, l.source.clone(), None);
            item.category = Category::Operator;
            out.push(item);
        }
    }
    out.sort_by(|a, b| a.origin.cmp(&b.origin));
    out.dedup_by(|a, b| a.origin == b.origin);
    out
}

/// Renders the cluster resources of `goal` from the journal and the lock (`icsp`: also the
/// legacy ImageContentSourcePolicy).
pub fn render_target(
    options: &Options,
    session: &Session,
    goal: &TargetGoal,
    lock: &LockFile,
    journal: &Journal,
    icsp: bool,
) -> Result<RenderedTarget, Failure> {
    let goal = offline_goal(session, goal, Some(lock))?;
    let out = Outputs {
        workspace: session.workspace.clone(),
        lock: std::sync::Arc::new(lock.clone()),
        lock_path: None,
        insecure_mirrors: !options.dest_tls_verify,
        source_date_epoch: source_date_epoch(),
        split_blobs: false,
        since: None,
    };
    let mut spec = plan::render_spec(&session.recipe, &goal, &out);
    spec.options.icsp = icsp;
    render_held(&spec.input(), journal).map_err(|e| {
        let exit = match e {
            crate::resources::HeldError::Write { .. } => Exit::Io,
            _ => Exit::InvalidInput,
        };
        Failure::new(exit, miette::miette!("{e}"))
    })
}
