//! The dependency queue of the scheduler (cargo's job queue is the model): which dirty tasks
//! may start now. A task is ready the moment every task it waits for has finished; a failed
//! task makes its hard dependants (and theirs) "not attempted", while tasks that only wait for
//! it (`after` edges) still run. Pure: no I/O, no async; tested with plain asserts.

use std::collections::{BTreeMap, BTreeSet};

/// How a task depends on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// Must succeed first.
    Hard,
    /// Must finish first, successfully or not.
    After,
}

/// Tasks are numbered `0..n` by the caller.
#[derive(Debug, Default)]
pub struct DependencyQueue {
    /// Dirty task → how many dirty tasks it still waits for.
    waiting: BTreeMap<usize, usize>,
    /// Task → (dependant, edge).
    dependants: BTreeMap<usize, Vec<(usize, Edge)>>,
    ready: BTreeSet<usize>,
}

impl DependencyQueue {
    /// `dirty`: the tasks to run. `edges`: (task, dependency, kind); edges to tasks that are not
    /// dirty are satisfied already (their output is there).
    pub fn new(
        dirty: &BTreeSet<usize>,
        edges: impl IntoIterator<Item = (usize, usize, Edge)>,
    ) -> Self {
        let mut q = DependencyQueue::default();
        for &t in dirty {
            q.waiting.insert(t, 0);
        }
        let mut seen = BTreeSet::new();
        for (task, dep, edge) in edges {
            if !dirty.contains(&task) || !dirty.contains(&dep) || !seen.insert((task, dep)) {
                continue;
            }
            *q.waiting.entry(task).or_default() += 1;
            q.dependants.entry(dep).or_default().push((task, edge));
        }
        q.ready = q
            .waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(t, _)| *t)
            .collect();
        for t in &q.ready {
            q.waiting.remove(t);
        }
        q
    }

    /// The next ready task (lowest number first, so runs follow the plan's order when they can).
    pub fn pop(&mut self) -> Option<usize> {
        self.ready.pop_first()
    }

    /// Records that `task` finished. Returns the tasks that will not be attempted because of
    /// it, each with the failed task that stopped it.
    pub fn finish(&mut self, task: usize, ok: bool) -> Vec<(usize, usize)> {
        let mut skipped = Vec::new();
        // (finished or skipped task, succeeded, the failure at the root)
        let mut todo = vec![(task, ok, task)];
        while let Some((t, ok, root)) = todo.pop() {
            for (d, edge) in self.dependants.remove(&t).unwrap_or_default() {
                let Some(n) = self.waiting.get_mut(&d) else {
                    continue;
                };
                if !ok && edge == Edge::Hard {
                    self.waiting.remove(&d);
                    skipped.push((d, root));
                    todo.push((d, false, root));
                    continue;
                }
                *n -= 1;
                if *n == 0 {
                    self.waiting.remove(&d);
                    self.ready.insert(d);
                }
            }
        }
        skipped
    }

    /// True when nothing is ready and nothing waits.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(n: usize) -> BTreeSet<usize> {
        (0..n).collect()
    }

    #[test]
    fn a_task_is_ready_as_soon_as_its_own_dependencies_finish() {
        // 0: slow copy, 1: verification, 2: copy gated by 1 — 2 must not wait for 0.
        let mut q = DependencyQueue::new(&all(3), [(2, 1, Edge::Hard)]);
        assert_eq!(q.pop(), Some(0));
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), None);
        assert!(q.finish(1, true).is_empty());
        assert_eq!(q.pop(), Some(2), "ready while 0 is still running");
        q.finish(2, true);
        q.finish(0, true);
        assert!(q.is_empty());
    }

    #[test]
    fn a_failure_skips_hard_dependants_transitively_and_only_them() {
        // 1 needs 0, 2 needs 1, 3 is independent, 4 runs after 0 and 3 whatever happens.
        let edges = [
            (1, 0, Edge::Hard),
            (2, 1, Edge::Hard),
            (4, 0, Edge::After),
            (4, 3, Edge::After),
        ];
        let mut q = DependencyQueue::new(&all(5), edges);
        assert_eq!(q.pop(), Some(0));
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), None);
        let skipped = q.finish(0, false);
        assert_eq!(skipped, vec![(1, 0), (2, 0)]);
        assert_eq!(q.pop(), None, "4 still waits for 3");
        q.finish(3, true);
        assert_eq!(q.pop(), Some(4), "an after-edge runs despite the failure");
        q.finish(4, true);
        assert!(q.is_empty());
    }

    #[test]
    fn fresh_dependencies_are_satisfied_already() {
        let dirty = BTreeSet::from([1]);
        let mut q = DependencyQueue::new(&dirty, [(1, 0, Edge::Hard)]);
        assert_eq!(q.pop(), Some(1));
        q.finish(1, true);
        assert!(q.is_empty());
    }

    #[test]
    fn duplicate_edges_count_once() {
        let mut q = DependencyQueue::new(&all(2), [(1, 0, Edge::Hard), (1, 0, Edge::After)]);
        assert_eq!(q.pop(), Some(0));
        q.finish(0, true);
        assert_eq!(q.pop(), Some(1));
    }
}
