//! From references to sibling edges to cycles.
//!
//! A reference from module `s` to module `t` is an edge between the two children of their closest common
//! ancestor that lead to `s` and to `t`; when `s` or `t` is that ancestor itself the reference goes up or down
//! the tree and is no edge. So each reference lands on exactly one level of the tree.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::model::{Crate, ModId};
use crate::report::{Cycle, Edge, Location, Report};
use crate::resolve::module_of;

/// The references behind one edge.
struct Evidence {
    count: usize,
    example: Location,
}

/// Finds the sibling cycles of `krate`, labelling them with `label`.
pub(crate) fn find(label: &str, krate: &Crate) -> Report {
    // (parent, from child, to child) → evidence; BTreeMap so the report comes out in a stable order.
    let mut edges: BTreeMap<(ModId, ModId, ModId), Evidence> = BTreeMap::new();
    for (source, module) in krate.modules.iter().enumerate() {
        for reference in &module.refs {
            let Some(target) = module_of(krate, &reference.path) else { continue };
            let Some((parent, from, to)) = sibling_edge(krate, source, target) else { continue };
            let evidence =
                edges.entry((parent, from, to)).or_insert(Evidence { count: 0, example: reference.location.clone() });
            evidence.count += 1;
            if reference.location < evidence.example {
                evidence.example = reference.location.clone();
            }
        }
    }

    let mut by_parent: BTreeMap<ModId, BTreeMap<ModId, BTreeSet<ModId>>> = BTreeMap::new();
    for &(parent, from, to) in edges.keys() {
        by_parent.entry(parent).or_default().entry(from).or_default().insert(to);
    }
    let mut report = Report::default();
    for graph in by_parent.values() {
        for (group, cycle) in cycles(krate, graph) {
            let names: Vec<String> = cycle.iter().map(|&m| krate.path_of(m)).collect();
            let steps = cycle.windows(2).map(|w| {
                let parent = krate.modules[w[0]].parent.unwrap_or(0);
                let evidence = &edges[&(parent, w[0], w[1])];
                Edge {
                    from: krate.path_of(w[0]),
                    to: krate.path_of(w[1]),
                    example: evidence.example.clone(),
                    count: evidence.count,
                }
            });
            report.cycles.push(Cycle { krate: label.to_string(), group, modules: names, edges: steps.collect() });
        }
    }
    report
}

/// The edge a reference from `source` to `target` makes: (common ancestor, child towards source, child towards target).
fn sibling_edge(krate: &Crate, source: ModId, target: ModId) -> Option<(ModId, ModId, ModId)> {
    let (up, down) = (krate.lineage(source), krate.lineage(target));
    let common = up.iter().zip(&down).take_while(|(a, b)| a == b).count();
    // `common` ≥ 1 (both start at the root); an ancestor/descendant pair leaves one lineage used up.
    match (up.get(common), down.get(common)) {
        (Some(&from), Some(&to)) => Some((up[common - 1], from, to)),
        _ => None,
    }
}

/// Cycles among the children of one module, each as `[a, b, …, a]` with the id of its strongly connected group
/// (the group's first module), ordered by group.
///
/// An SCC can hold exponentially many cycles, so not all are listed: for every edge `u → v` inside a strongly
/// connected group, the cycle made of that edge and a shortest way back from `v` to `u`. Every edge that takes
/// part in some cycle is thus shown in at least one, which is what a developer needs to break them all.
fn cycles(krate: &Crate, graph: &BTreeMap<ModId, BTreeSet<ModId>>) -> Vec<(ModId, Vec<ModId>)> {
    let by_name = |m: &ModId| krate.modules[*m].name.clone();
    let mut found: BTreeSet<(ModId, usize, Vec<String>, Vec<ModId>)> = BTreeSet::new();
    for (&u, targets) in graph {
        for &v in targets {
            let Some(back) = shortest_path(graph, v, u) else { continue };
            let mut cycle: Vec<ModId> = std::iter::once(u).chain(back).collect();
            // Rotate so the alphabetically first module leads: the same cycle found from two edges reads the same.
            cycle.pop();
            let start = (0..cycle.len()).min_by_key(|&i| by_name(&cycle[i])).unwrap_or(0);
            cycle.rotate_left(start);
            cycle.push(cycle[0]);
            found.insert((group(graph, u), cycle.len(), cycle.iter().map(by_name).collect(), cycle));
        }
    }
    found.into_iter().map(|(group, _, _, cycle)| (group, cycle)).collect()
}

/// The smallest id in `node`'s strongly connected group: the nodes it reaches that also reach it.
fn group(graph: &BTreeMap<ModId, BTreeSet<ModId>>, node: ModId) -> ModId {
    let reached = reachable(graph, node);
    reached.into_iter().filter(|&other| reachable(graph, other).contains(&node)).min().unwrap_or(node)
}

/// Every node reachable from `from`, itself included.
fn reachable(graph: &BTreeMap<ModId, BTreeSet<ModId>>, from: ModId) -> BTreeSet<ModId> {
    let mut seen = BTreeSet::from([from]);
    let mut stack = vec![from];
    while let Some(node) = stack.pop() {
        for &next in graph.get(&node).into_iter().flatten() {
            if seen.insert(next) {
                stack.push(next);
            }
        }
    }
    seen
}

/// A shortest path `from → … → to` (both included), visiting neighbours in id order so the result is stable.
fn shortest_path(graph: &BTreeMap<ModId, BTreeSet<ModId>>, from: ModId, to: ModId) -> Option<Vec<ModId>> {
    let mut previous: BTreeMap<ModId, ModId> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            let mut path = vec![to];
            while let Some(&p) = previous.get(path.last()?) {
                path.push(p);
            }
            path.reverse();
            return Some(path);
        }
        for &next in graph.get(&node).into_iter().flatten() {
            if seen.insert(next) {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}
