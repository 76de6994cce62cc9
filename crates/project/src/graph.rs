//! The DAG of nodes and sources, cycle detection, and dbt's node selection syntax.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::error::{ProjectError, Result};
use crate::{Node, ResourceType, Source};

/// Parents and children of every node and source, by unique id.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Dag {
    pub parents: BTreeMap<String, BTreeSet<String>>,
    pub children: BTreeMap<String, BTreeSet<String>>,
}

impl Dag {
    /// Builds the graph and refuses a cycle, naming its nodes in order.
    pub fn build(
        nodes: &BTreeMap<String, Node>,
        sources: &BTreeMap<String, Source>,
    ) -> Result<Self> {
        let mut dag = Dag::default();
        for id in nodes.keys().chain(sources.keys()) {
            dag.parents.entry(id.clone()).or_default();
            dag.children.entry(id.clone()).or_default();
        }
        for node in nodes.values() {
            for dep in &node.depends_on {
                dag.parents
                    .entry(node.unique_id.clone())
                    .or_default()
                    .insert(dep.clone());
                dag.children
                    .entry(dep.clone())
                    .or_default()
                    .insert(node.unique_id.clone());
            }
        }
        if let Some(cycle) = dag.find_cycle() {
            return Err(ProjectError::Cycle(cycle));
        }
        Ok(dag)
    }

    /// Unique ids in an order where every node comes after its parents.
    pub fn topological_order(&self) -> Vec<String> {
        let mut indegree: BTreeMap<&str, usize> = self
            .parents
            .iter()
            .map(|(id, ps)| (id.as_str(), ps.len()))
            .collect();
        let mut ready: VecDeque<&str> = indegree
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(id, _)| *id)
            .collect();
        let mut order = Vec::new();
        while let Some(id) = ready.pop_front() {
            order.push(id.to_string());
            for child in self.children.get(id).into_iter().flatten() {
                if let Some(d) = indegree.get_mut(child.as_str()) {
                    *d -= 1;
                    if *d == 0 {
                        ready.push_back(child.as_str());
                    }
                }
            }
        }
        order
    }

    fn find_cycle(&self) -> Option<Vec<String>> {
        // Colours: 0 unvisited, 1 on the current path, 2 done.
        let mut colour: BTreeMap<&str, u8> = BTreeMap::new();
        for start in self.parents.keys() {
            if colour.get(start.as_str()).copied().unwrap_or(0) != 0 {
                continue;
            }
            let mut path: Vec<&str> = Vec::new();
            let mut stack: Vec<(&str, bool)> = vec![(start.as_str(), false)];
            while let Some((id, leaving)) = stack.pop() {
                if leaving {
                    colour.insert(id, 2);
                    path.pop();
                    continue;
                }
                match colour.get(id).copied().unwrap_or(0) {
                    2 => continue,
                    1 => {
                        let pos = path.iter().position(|p| *p == id).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            path[pos..].iter().map(|s| s.to_string()).collect();
                        cycle.push(id.to_string());
                        return Some(cycle);
                    }
                    _ => {}
                }
                colour.insert(id, 1);
                path.push(id);
                stack.push((id, true));
                for child in self.children.get(id).into_iter().flatten() {
                    match colour.get(child.as_str()).copied().unwrap_or(0) {
                        0 => stack.push((child.as_str(), false)),
                        1 => {
                            let pos = path.iter().position(|p| *p == child.as_str()).unwrap_or(0);
                            let mut cycle: Vec<String> =
                                path[pos..].iter().map(|s| s.to_string()).collect();
                            cycle.push(child.clone());
                            return Some(cycle);
                        }
                        _ => {}
                    }
                }
            }
        }
        None
    }

    fn walk(&self, start: &str, up: bool, depth: Option<usize>, out: &mut BTreeSet<String>) {
        let edges = if up { &self.parents } else { &self.children };
        let mut queue = VecDeque::from([(start.to_string(), 0usize)]);
        let mut seen = BTreeSet::new();
        while let Some((id, d)) = queue.pop_front() {
            if depth.is_some_and(|max| d >= max) {
                continue;
            }
            for next in edges.get(&id).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    out.insert(next.clone());
                    queue.push_back((next.clone(), d + 1));
                }
            }
        }
    }
}

/// What `state:` and `result:` selectors read: an earlier run's artifacts and the macros now.
#[derive(Debug, Clone, Copy)]
pub struct SelectState<'a> {
    pub state: Option<&'a crate::state::State>,
    /// Macro name to source, for `state:modified.macros`.
    pub macros: &'a BTreeMap<String, String>,
}

struct Ctx<'a> {
    nodes: &'a BTreeMap<String, Node>,
    sources: &'a BTreeMap<String, Source>,
    dag: &'a Dag,
    state: &'a SelectState<'a>,
}

/// Resolves `--select` / `--exclude` to unique ids of nodes (not sources).
///
/// Supported: names, globs (`stg_*`), folder names (`staging`), `tag:x`, `path:models/staging`,
/// `resource_type:seed`, `source:raw` / `source:raw.orders`, `config.materialized:table`, the
/// graph operators `+x`, `x+`, `2+x`, `x+1`, `@x`, unions (space separated or repeated flags)
/// and intersections (comma).
pub fn select(
    nodes: &BTreeMap<String, Node>,
    sources: &BTreeMap<String, Source>,
    dag: &Dag,
    selectors: &[String],
    excludes: &[String],
    state: &SelectState<'_>,
) -> Result<BTreeSet<String>> {
    let ctx = Ctx {
        nodes,
        sources,
        dag,
        state,
    };
    let mut selected: BTreeSet<String> = if selectors.is_empty() {
        nodes.keys().cloned().collect()
    } else {
        let mut set = BTreeSet::new();
        for s in selectors.iter().flat_map(|s| s.split_whitespace()) {
            set.extend(resolve_union_term(&ctx, s)?);
        }
        set
    };
    for s in excludes.iter().flat_map(|s| s.split_whitespace()) {
        for id in resolve_union_term(&ctx, s)? {
            selected.remove(&id);
        }
    }
    // Tests come with the nodes they test (dbt's "eager" indirect selection), unless excluded.
    if !selectors.is_empty() {
        let mut excluded_tests = BTreeSet::new();
        for s in excludes.iter().flat_map(|s| s.split_whitespace()) {
            excluded_tests.extend(resolve_union_term(&ctx, s)?);
        }
        for node in nodes.values() {
            if node.resource_type == ResourceType::Test
                && !excluded_tests.contains(&node.unique_id)
                && node.depends_on.iter().any(|d| selected.contains(d))
                && node.depends_on.iter().all(|d| {
                    selected.contains(d)
                        || sources.contains_key(d)
                        || !nodes.contains_key(d)
                        || nodes[d].resource_type != ResourceType::Test
                })
            {
                selected.insert(node.unique_id.clone());
            }
        }
    }
    selected.retain(|id| nodes.contains_key(id));
    Ok(selected)
}

/// The sources a selection names, for commands about sources (`source freshness`): every source
/// when there are no selectors; a bare name is read as `source:<name>` (`raw`, `raw.orders`).
pub fn select_sources(
    nodes: &BTreeMap<String, Node>,
    sources: &BTreeMap<String, Source>,
    dag: &Dag,
    selectors: &[String],
) -> Result<BTreeSet<String>> {
    if selectors.is_empty() {
        return Ok(sources.keys().cloned().collect());
    }
    let no_macros = BTreeMap::new();
    let state = SelectState {
        state: None,
        macros: &no_macros,
    };
    let ctx = Ctx {
        nodes,
        sources,
        dag,
        state: &state,
    };
    let mut out = BTreeSet::new();
    for s in selectors.iter().flat_map(|s| s.split_whitespace()) {
        let term = if s.contains(':') {
            s.to_string()
        } else {
            format!("source:{s}")
        };
        out.extend(
            resolve_union_term(&ctx, &term)?
                .into_iter()
                .filter(|id| sources.contains_key(id)),
        );
    }
    Ok(out)
}

fn resolve_union_term(ctx: &Ctx<'_>, term: &str) -> Result<BTreeSet<String>> {
    let mut result: Option<BTreeSet<String>> = None;
    for atom in term.split(',').filter(|a| !a.is_empty()) {
        let set = resolve_atom(ctx, atom)?;
        result = Some(match result {
            None => set,
            Some(prev) => prev.intersection(&set).cloned().collect(),
        });
    }
    Ok(result.unwrap_or_default())
}

fn resolve_atom(ctx: &Ctx<'_>, atom: &str) -> Result<BTreeSet<String>> {
    let dag = ctx.dag;
    let err = |message: &str| ProjectError::Selector {
        selector: atom.to_string(),
        message: message.to_string(),
    };
    let (at, rest) = match atom.strip_prefix('@') {
        Some(r) => (true, r),
        None => (false, atom),
    };
    // Leading `N+` or `+`.
    let (up, rest) = split_leading_plus(rest);
    // Trailing `+N` or `+`.
    let (down, core) = split_trailing_plus(rest);
    if core.is_empty() {
        return Err(err("empty selector"));
    }
    let base = match_method(ctx, core).map_err(|m| err(&m))?;
    if base.is_empty() {
        tracing::warn!("selector '{atom}' matches nothing");
    }
    let mut out = base.clone();
    for id in &base {
        if let Some(depth) = up {
            dag.walk(id, true, depth, &mut out);
        }
        if let Some(depth) = down {
            dag.walk(id, false, depth, &mut out);
        }
        if at {
            let mut descendants = BTreeSet::new();
            dag.walk(id, false, None, &mut descendants);
            for d in descendants {
                out.insert(d.clone());
                dag.walk(&d, true, None, &mut out);
            }
        }
    }
    Ok(out)
}

type Depth = Option<Option<usize>>;

fn split_leading_plus(s: &str) -> (Depth, &str) {
    let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
    if s[digits..].starts_with('+') {
        let depth = s[..digits].parse().ok();
        (Some(depth), &s[digits + 1..])
    } else {
        (None, s)
    }
}

fn split_trailing_plus(s: &str) -> (Depth, &str) {
    let digits = s.chars().rev().take_while(|c| c.is_ascii_digit()).count();
    let head = &s[..s.len() - digits];
    if let Some(core) = head.strip_suffix('+') {
        // `model_2` ends in a digit but has no `+`: only treat digits as a depth after a `+`.
        let depth = s[s.len() - digits..].parse().ok();
        (Some(depth), core)
    } else {
        (None, s)
    }
}

fn match_method(ctx: &Ctx<'_>, core: &str) -> std::result::Result<BTreeSet<String>, String> {
    let (nodes, sources) = (ctx.nodes, ctx.sources);
    let (method, value) = match core.split_once(':') {
        Some((m, v)) => (m, v),
        None => ("", core),
    };
    let mut out = BTreeSet::new();
    match method {
        "" | "fqn" => {
            let pattern = glob::Pattern::new(value).map_err(|e| e.to_string())?;
            let dotted: Vec<&str> = value.split('.').collect();
            for node in nodes.values() {
                let by_name = pattern.matches(&node.name);
                // `staging` or `staging.stg_orders`: a prefix of the fqn below the project name.
                let fqn = &node.fqn[1.min(node.fqn.len())..];
                let by_fqn = dotted.len() <= fqn.len()
                    && dotted
                        .iter()
                        .zip(fqn.iter())
                        .all(|(p, f)| glob::Pattern::new(p).map(|g| g.matches(f)).unwrap_or(false));
                if by_name || by_fqn {
                    out.insert(node.unique_id.clone());
                }
            }
        }
        "tag" => {
            for node in nodes.values() {
                if node.config.tags().iter().any(|t| t == value) {
                    out.insert(node.unique_id.clone());
                }
            }
        }
        "path" | "file" => {
            let value = value.trim_end_matches('/');
            for node in nodes.values() {
                let p = node.path.to_string_lossy();
                if p == value
                    || node.path.starts_with(value)
                    || node.path.file_name().is_some_and(|f| f == value)
                {
                    out.insert(node.unique_id.clone());
                }
            }
        }
        "resource_type" => {
            for node in nodes.values() {
                let unit = node.unit.is_some();
                if (value == "unit_test" && unit) || (node.resource_type.as_str() == value && !unit)
                {
                    out.insert(node.unique_id.clone());
                }
            }
        }
        "test_type" => {
            for node in nodes.values() {
                let is_generic = node.test.is_some();
                let is_unit = node.unit.is_some();
                let matches = match value {
                    "generic" => node.resource_type == ResourceType::Test && is_generic,
                    "singular" | "data" => {
                        node.resource_type == ResourceType::Test && !is_generic && !is_unit
                    }
                    "unit" => is_unit,
                    _ => false,
                };
                if matches {
                    out.insert(node.unique_id.clone());
                }
            }
        }
        "state" => {
            let state = ctx.state.state.ok_or(
                "state: selectors compare with an earlier run: pass --state DIR (its target/ folder)",
            )?;
            out = state.select(nodes, ctx.state.macros, value)?;
        }
        "result" => {
            let state = ctx.state.state.ok_or(
                "result: selectors read an earlier run's run_results.json: pass --state DIR (e.g. --state target)",
            )?;
            out = state.with_result(value);
        }
        "source" => {
            for source in sources.values() {
                let full = format!("{}.{}", source.source_name, source.name);
                if source.source_name == value || full == value {
                    out.insert(source.unique_id.clone());
                }
            }
        }
        m if m.starts_with("config.") => {
            let key = &m["config.".len()..];
            for node in nodes.values() {
                let matches = match node.config.get(key) {
                    Some(serde_json::Value::String(s)) => s == value,
                    Some(serde_json::Value::Array(items)) => {
                        items.iter().any(|i| i.as_str() == Some(value))
                    }
                    Some(other) => {
                        let text = other.to_string();
                        text == value
                    }
                    None => key == "materialized" && node.materialized() == value,
                };
                if matches {
                    out.insert(node.unique_id.clone());
                }
            }
        }
        other => return Err(format!("unknown selector method '{other}'")),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_operators_parse_depths() {
        assert_eq!(split_leading_plus("2+orders"), (Some(Some(2)), "orders"));
        assert_eq!(split_leading_plus("+orders"), (Some(None), "orders"));
        assert_eq!(split_trailing_plus("orders+1"), (Some(Some(1)), "orders"));
        assert_eq!(split_trailing_plus("model_2"), (None, "model_2"));
        assert_eq!(split_trailing_plus("orders+"), (Some(None), "orders"));
    }
}
