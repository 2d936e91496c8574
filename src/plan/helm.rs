//! The Helm stage of the planner: one `push-chart` task per chart that airlift packs (from a
//! classic repository or a local chart) and registry target that carries its set, named
//! `<target>/<path>:<tag>` (the repository's recipe name or the set's name, then the chart's
//! name; the version with `+` written `_`). OCI charts and the images charts deploy are
//! ordinary copies (see `items`).

use super::build::{Plan, PlanOptions, RecordedState, freshness};
use super::goal::TargetGoal;
use super::named_destination;
use super::task::{Task, TaskId, TaskKind};
use crate::discover::{ChartSource, Discovery};
use crate::state::KindName;
use crate::task::kinds::ChartSpec;

pub(super) fn add_charts(
    plan: &mut Plan,
    goals: &[TargetGoal],
    discovery: &Discovery,
    state: &dyn RecordedState,
    opts: &PlanOptions,
    created: Option<String>,
) {
    for goal in goals
        .iter()
        .filter(|g| g.layout.is_none() && g.archive.is_none())
    {
        for need in &goal.charts {
            for c in discovery.charts.iter().filter(|c| c.set == need.set) {
                let ChartSource::Packed { path, tag } = &c.source else {
                    continue;
                };
                let dest = match named_destination(&goal.dest, path, tag) {
                    Ok(d) => d,
                    Err(e) => {
                        let named = format!("{}/{path}:{tag}", goal.dest.registry);
                        if let Ok(r) = named.parse() {
                            plan.missing.push((r, format!("chart {}: {e}", c.name)));
                        }
                        continue;
                    }
                };
                let kind = TaskKind::PushChart(ChartSpec {
                    set: c.set.clone(),
                    repository: c.repository.clone(),
                    chart: c.name.clone(),
                    version: c.version.clone(),
                    archive: c.archive.clone(),
                    archive_digest: c.archive_digest.clone(),
                    dest: dest.clone(),
                    created: created.clone(),
                });
                let key = kind.key();
                let fresh = freshness(&kind, &key, None, state, discovery, opts);
                plan.tasks.push(Task {
                    id: TaskId::new(KindName::PushChart, &goal.name, &dest.to_string()),
                    target: goal.name.clone(),
                    key,
                    kind,
                    deps: Vec::new(),
                    after: Vec::new(),
                    freshness: fresh,
                    bytes: c.archive_size,
                });
            }
        }
    }
}
