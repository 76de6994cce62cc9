//! The docs site: one page per model, source, seed, snapshot and test (description, columns
//! with their types in the warehouse, compiled SQL, what it reads and what reads it) and an
//! interactive lineage graph. `orderlake docs generate` writes it to a folder; `serve` keeps it
//! in memory at `/docs`.
//!
//! A model whose config has `meta: {docs_preview: N}` also shows its first N rows as built —
//! for small tables whose contents are the documentation (e.g. a backtest's metrics).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use orderlake_project::{Project, ResourceType};
use serde::Serialize;

use crate::error::{Result, ServeError};
use crate::live::Snapshot;
use crate::pg::catalog::format_type;

const INDEX: &str = include_str!("../templates/docs_index.html");
const NODE: &str = include_str!("../templates/docs_node.html");
const LINEAGE_JS: &str = include_str!("../assets/lineage.js");
const DOCS_CSS: &str = include_str!("../assets/docs.css");

/// A column as documented: from the YAML, with the type the warehouse has.
#[derive(Debug, Clone, Serialize)]
pub struct DocColumn {
    pub name: String,
    pub data_type: String,
    pub description: String,
    pub tests: Vec<String>,
}

/// The first rows of a table, as the docs show them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Preview {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Why the rows could not be read, if they could not.
    pub error: Option<String>,
}

/// The most rows a preview shows, whatever the config asks.
const MAX_PREVIEW_ROWS: u64 = 100;

/// How many rows `meta.docs_preview` asks to show of a node, if any.
fn preview_rows(node: &orderlake_project::Node) -> Option<u64> {
    let asked = node.config.get("meta")?.get("docs_preview")?.as_u64()?;
    (asked > 0).then_some(asked.min(MAX_PREVIEW_ROWS))
}

/// Reads the previews the project's nodes ask for, by node id, from the built tables of
/// `snapshot` (nodes not built yet have none).
pub async fn previews(project: &Project, snapshot: &Snapshot) -> BTreeMap<String, Preview> {
    let mut out = BTreeMap::new();
    for node in project.nodes.values() {
        let (Some(limit), Some(relation)) = (preview_rows(node), node.relation.as_ref()) else {
            continue;
        };
        if relation.ephemeral
            || snapshot
                .relation(&relation.schema, &relation.identifier)
                .is_none()
        {
            continue;
        }
        let sql = format!("select * from {relation} limit {limit}");
        let preview = match crate::dashboard::rows(snapshot, &sql).await {
            Ok((columns, rows)) => Preview {
                columns,
                rows,
                error: None,
            },
            Err(e) => Preview {
                columns: Vec::new(),
                rows: Vec::new(),
                error: Some(e),
            },
        };
        out.insert(node.unique_id.clone(), preview);
    }
    out
}

/// One documented node.
#[derive(Debug, Clone, Serialize)]
pub struct DocNode {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub materialized: String,
    pub relation: Option<String>,
    pub path: String,
    pub description: String,
    pub tags: Vec<String>,
    pub columns: Vec<DocColumn>,
    pub raw_sql: String,
    pub compiled_sql: String,
    pub parents: Vec<String>,
    pub children: Vec<String>,
    pub tests: Vec<String>,
    pub file: String,
    pub preview: Option<Preview>,
    /// Lineage layout: column (depth) and row.
    pub x: usize,
    pub y: usize,
}

fn page_file(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("nodes/{safe}.html")
}

fn warehouse_columns(
    snapshot: Option<&Snapshot>,
    schema: &str,
    name: &str,
) -> Vec<(String, String)> {
    snapshot
        .and_then(|s| s.relation(schema, name))
        .map(|r| {
            r.columns
                .iter()
                .map(|c| {
                    let ty = crate::pg::catalog::pg_type(&c.data_type);
                    let shown =
                        format_type(ty.oid(), crate::pg::catalog::type_modifier(&c.data_type))
                            .unwrap_or_else(|| ty.name().to_string());
                    (c.name.clone(), shown)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn merge_columns(
    documented: &[orderlake_project::props::ColumnProps],
    stored: Vec<(String, String)>,
    tests_by_column: &HashMap<String, Vec<String>>,
) -> Vec<DocColumn> {
    let mut out: Vec<DocColumn> = Vec::new();
    let described: HashMap<String, &orderlake_project::props::ColumnProps> = documented
        .iter()
        .map(|c| (c.name.to_ascii_lowercase(), c))
        .collect();
    let mut seen = BTreeSet::new();
    for (name, data_type) in &stored {
        let props = described.get(&name.to_ascii_lowercase());
        seen.insert(name.to_ascii_lowercase());
        out.push(DocColumn {
            name: name.clone(),
            data_type: data_type.clone(),
            description: props
                .and_then(|p| p.description.clone())
                .unwrap_or_default(),
            tests: tests_by_column
                .get(&name.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default(),
        });
    }
    // Documented but not (yet) in the warehouse: still listed, with the declared type if any.
    for props in documented {
        if seen.insert(props.name.to_ascii_lowercase()) {
            out.push(DocColumn {
                name: props.name.clone(),
                data_type: props
                    .data_type
                    .clone()
                    .unwrap_or_else(|| "(not built)".into()),
                description: props.description.clone().unwrap_or_default(),
                tests: tests_by_column
                    .get(&props.name.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// Depth of each node: the longest path from a node with no parents.
fn depths(ids: &[String], parents: &BTreeMap<String, Vec<String>>) -> HashMap<String, usize> {
    fn depth_of(
        id: &str,
        parents: &BTreeMap<String, Vec<String>>,
        memo: &mut HashMap<String, usize>,
        visiting: &mut BTreeSet<String>,
    ) -> usize {
        if let Some(d) = memo.get(id) {
            return *d;
        }
        if !visiting.insert(id.to_string()) {
            return 0;
        }
        let d = parents
            .get(id)
            .map(|ps| {
                ps.iter()
                    .map(|p| depth_of(p, parents, memo, visiting) + 1)
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        visiting.remove(id);
        memo.insert(id.to_string(), d);
        d
    }
    let mut memo = HashMap::new();
    let mut visiting = BTreeSet::new();
    for id in ids {
        depth_of(id, parents, &mut memo, &mut visiting);
    }
    memo
}

/// Builds every documented node, laid out for the lineage graph.
pub fn nodes(
    project: &Project,
    snapshot: Option<&Snapshot>,
    previews: &BTreeMap<String, Preview>,
) -> Vec<DocNode> {
    let mut tests_by_node: HashMap<String, Vec<String>> = HashMap::new();
    let mut tests_by_column: HashMap<(String, String), Vec<String>> = HashMap::new();
    for node in project.nodes.values() {
        if let Some(test) = &node.test {
            tests_by_node
                .entry(test.attached_to.clone())
                .or_default()
                .push(node.unique_id.clone());
            if let Some(column) = &test.column_name {
                tests_by_column
                    .entry((test.attached_to.clone(), column.to_ascii_lowercase()))
                    .or_default()
                    .push(test.test_name.clone());
            }
        }
    }
    let mut out = Vec::new();
    for node in project.nodes.values() {
        let columns_tests: HashMap<String, Vec<String>> = tests_by_column
            .iter()
            .filter(|((n, _), _)| *n == node.unique_id)
            .map(|((_, c), t)| (c.clone(), t.clone()))
            .collect();
        let stored = node
            .relation
            .as_ref()
            .map(|r| warehouse_columns(snapshot, &r.schema, &r.identifier))
            .unwrap_or_default();
        let compiled_sql = if node.resource_type == ResourceType::Seed {
            String::new()
        } else {
            match project.compile(&node.unique_id, false) {
                Ok(c) => c.sql,
                Err(e) => format!("-- does not compile: {e}"),
            }
        };
        out.push(DocNode {
            id: node.unique_id.clone(),
            name: node.name.clone(),
            kind: node.resource_type.as_str().to_string(),
            materialized: node.materialized().to_string(),
            relation: node
                .relation
                .as_ref()
                .filter(|r| !r.ephemeral)
                .map(|r| format!("{}.{}", r.schema, r.identifier)),
            path: node.path.display().to_string(),
            description: node.description.clone(),
            tags: node.config.tags(),
            columns: merge_columns(&node.columns, stored, &columns_tests),
            raw_sql: node.raw_code.clone(),
            compiled_sql,
            parents: project
                .dag
                .parents
                .get(&node.unique_id)
                .map(|p| p.iter().cloned().collect())
                .unwrap_or_default(),
            children: project
                .dag
                .children
                .get(&node.unique_id)
                .map(|c| c.iter().cloned().collect())
                .unwrap_or_default(),
            tests: tests_by_node.remove(&node.unique_id).unwrap_or_default(),
            file: page_file(&node.unique_id),
            preview: previews.get(&node.unique_id).cloned(),
            x: 0,
            y: 0,
        });
    }
    for source in project.sources.values() {
        let stored = warehouse_columns(
            snapshot,
            &source.relation.schema,
            &source.relation.identifier,
        );
        let columns_tests: HashMap<String, Vec<String>> = tests_by_column
            .iter()
            .filter(|((n, _), _)| *n == source.unique_id)
            .map(|((_, c), t)| (c.clone(), t.clone()))
            .collect();
        out.push(DocNode {
            id: source.unique_id.clone(),
            name: format!("{}.{}", source.source_name, source.name),
            kind: "source".into(),
            materialized: source
                .external
                .as_ref()
                .map(|e| format!("external: {}", e.location))
                .unwrap_or_else(|| "table".into()),
            relation: Some(format!(
                "{}.{}",
                source.relation.schema, source.relation.identifier
            )),
            path: source.path.display().to_string(),
            description: source.description.clone(),
            tags: vec![],
            columns: merge_columns(&source.columns, stored, &columns_tests),
            raw_sql: String::new(),
            compiled_sql: String::new(),
            parents: vec![],
            children: project
                .dag
                .children
                .get(&source.unique_id)
                .map(|c| c.iter().cloned().collect())
                .unwrap_or_default(),
            tests: tests_by_node.remove(&source.unique_id).unwrap_or_default(),
            file: page_file(&source.unique_id),
            preview: None,
            x: 0,
            y: 0,
        });
    }
    layout(&mut out);
    out
}

/// Columns by depth for everything but tests (they hang off their node's page instead).
fn layout(nodes: &mut [DocNode]) {
    let graph_ids: Vec<String> = nodes
        .iter()
        .filter(|n| n.kind != "test")
        .map(|n| n.id.clone())
        .collect();
    let in_graph: BTreeSet<&String> = graph_ids.iter().collect();
    let parents: BTreeMap<String, Vec<String>> = nodes
        .iter()
        .filter(|n| n.kind != "test")
        .map(|n| {
            (
                n.id.clone(),
                n.parents
                    .iter()
                    .filter(|p| in_graph.contains(p))
                    .cloned()
                    .collect(),
            )
        })
        .collect();
    let depth = depths(&graph_ids, &parents);
    let mut rows: HashMap<usize, usize> = HashMap::new();
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|a, b| (&nodes[*a].kind, &nodes[*a].id).cmp(&(&nodes[*b].kind, &nodes[*b].id)));
    for i in order {
        if nodes[i].kind == "test" {
            continue;
        }
        let d = depth.get(&nodes[i].id).copied().unwrap_or(0);
        let row = rows.entry(d).or_insert(0);
        nodes[i].x = d;
        nodes[i].y = *row;
        *row += 1;
    }
}

/// Renders the whole site: path → bytes.
pub fn render(
    project: &Project,
    snapshot: Option<&Snapshot>,
    previews: &BTreeMap<String, Preview>,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let nodes = nodes(project, snapshot, previews);
    let mut env = Environment::new();
    env.add_template("index.html", INDEX)
        .and_then(|_| env.add_template("node.html", NODE))
        .map_err(|e| ServeError::Invalid(format!("docs templates: {e}")))?;
    let by_id: BTreeMap<&str, &DocNode> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let graph: Vec<_> = nodes
        .iter()
        .filter(|n| n.kind != "test")
        .map(|n| {
            serde_json::json!({
                "id": n.id, "name": n.name, "kind": n.kind, "x": n.x, "y": n.y,
                "file": n.file, "parents": n.parents.iter().filter(|p| by_id.get(p.as_str()).is_some_and(|p| p.kind != "test")).collect::<Vec<_>>(),
            })
        })
        .collect();
    let graph_json = serde_json::to_string(&graph)
        .map_err(|e| ServeError::Invalid(format!("docs graph: {e}")))?;
    let mut groups: BTreeMap<String, Vec<&DocNode>> = BTreeMap::new();
    for n in &nodes {
        groups.entry(n.kind.clone()).or_default().push(n);
    }
    let generated_at = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let mut site = BTreeMap::new();
    let index = env
        .get_template("index.html")
        .and_then(|t| {
            t.render(context! {
                project => project.name.clone(),
                groups => Value::from(Serde(&groups)),
                graph_json => graph_json.replace("</", "<\\/"),
                count => nodes.len(),
                generated_at => generated_at,
            })
        })
        .map_err(|e| ServeError::Invalid(format!("docs index: {e}")))?;
    site.insert("index.html".to_string(), index.into_bytes());
    let names: BTreeMap<&str, (&str, &str, &str)> = nodes
        .iter()
        .map(|n| {
            (
                n.id.as_str(),
                (n.name.as_str(), n.kind.as_str(), n.file.as_str()),
            )
        })
        .collect();
    let link = |id: &String| {
        let (name, kind, file) = names.get(id.as_str()).copied().unwrap_or((id, "?", ""));
        serde_json::json!({"id": id, "name": name, "kind": kind, "file": file})
    };
    for n in &nodes {
        let html = env
            .get_template("node.html")
            .and_then(|t| {
                t.render(context! {
                    project => project.name.clone(),
                    node => Value::from(Serde(n)),
                    parents => Value::from(Serde(n.parents.iter().map(link).collect::<Vec<_>>())),
                    children => Value::from(Serde(n.children.iter().filter(|c| names.get(c.as_str()).is_some_and(|x| x.1 != "test")).map(link).collect::<Vec<_>>())),
                    tests => Value::from(Serde(n.tests.iter().map(link).collect::<Vec<_>>())),
                })
            })
            .map_err(|e| ServeError::Invalid(format!("docs page of {}: {e}", n.id)))?;
        site.insert(n.file.clone(), html.into_bytes());
    }
    site.insert("lineage.js".into(), LINEAGE_JS.as_bytes().to_vec());
    site.insert("docs.css".into(), DOCS_CSS.as_bytes().to_vec());
    site.insert(
        "graph.json".into(),
        serde_json::to_vec_pretty(&nodes)
            .map_err(|e| ServeError::Invalid(format!("docs graph: {e}")))?,
    );
    Ok(site)
}

/// The whole site for the warehouse as it is now, previews included.
pub async fn site(live: &crate::live::Live) -> Result<BTreeMap<String, Vec<u8>>> {
    let snapshot = live.snapshot();
    let previews = previews(live.project(), &snapshot).await;
    render(live.project(), Some(&snapshot), &previews)
}

/// Writes the site into `out` (created if needed).
pub fn write(site: &BTreeMap<String, Vec<u8>>, out: &Path) -> Result<usize> {
    for (path, bytes) in site {
        let file = out.join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ServeError::io(dir, e))?;
        }
        std::fs::write(&file, bytes).map_err(|e| ServeError::io(&file, e))?;
    }
    Ok(site.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_the_longest_path_from_a_root() {
        let ids: Vec<String> = ["s", "a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut parents = BTreeMap::new();
        parents.insert("a".to_string(), vec!["s".to_string()]);
        parents.insert("b".to_string(), vec!["a".to_string()]);
        parents.insert("c".to_string(), vec!["s".to_string(), "b".to_string()]);
        let d = depths(&ids, &parents);
        assert_eq!((d["s"], d["a"], d["b"], d["c"]), (0, 1, 2, 3));
    }

    #[test]
    fn page_files_are_safe_names() {
        assert_eq!(
            page_file("model.oms.fct_sales"),
            "nodes/model.oms.fct_sales.html"
        );
        assert_eq!(page_file("test.oms.x/../y"), "nodes/test.oms.x_.._y.html");
    }
}
