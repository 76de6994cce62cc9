//! What a run leaves under `target/`, in the shapes dbt tools read: `manifest.json`,
//! `run_results.json` and `sources.json`.

use std::path::Path;

use orderlake_project::Project;
use serde_json::{Value, json};

use crate::error::{EngineError, Result};
use crate::freshness::FreshnessResult;
use crate::run::NodeResult;

fn write_json(path: &Path, value: &Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| {
        EngineError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    std::fs::write(path, text).map_err(|e| EngineError::io(path, e))
}

pub fn manifest(project: &Project) -> Value {
    let nodes: serde_json::Map<String, Value> = project
        .nodes
        .values()
        .map(|n| {
            let columns: serde_json::Map<String, Value> = n
                .columns
                .iter()
                .map(|c| (c.name.clone(), json!({"name": c.name, "description": c.description.clone().unwrap_or_default(), "data_type": c.data_type})))
                .collect();
            (
                n.unique_id.clone(),
                json!({
                    "unique_id": n.unique_id,
                    "resource_type": n.resource_type,
                    "name": n.name,
                    "package_name": project.name,
                    "path": n.path,
                    "original_file_path": n.path,
                    "patch_path": n.patch_path,
                    "fqn": n.fqn,
                    "schema": n.relation.as_ref().map(|r| r.schema.clone()),
                    "alias": n.relation.as_ref().map(|r| r.identifier.clone()),
                    "relation_name": n.relation.as_ref().filter(|r| !r.ephemeral).map(|r| r.to_string()),
                    "config": n.config,
                    "tags": n.config.tags(),
                    "description": n.description,
                    "columns": columns,
                    "raw_code": n.raw_code,
                    "compiled_path": project.compiled_path(n),
                    "depends_on": {"nodes": n.depends_on},
                    "refs": n.refs,
                    "sources": n.source_refs,
                    "test_metadata": n.test.as_ref().map(|t| json!({"name": t.test_name, "kwargs": t.kwargs, "column_name": t.column_name})),
                    "attached_node": n.test.as_ref().map(|t| t.attached_to.clone()),
                }),
            )
        })
        .collect();
    let sources: serde_json::Map<String, Value> = project
        .sources
        .values()
        .map(|s| {
            (
                s.unique_id.clone(),
                json!({
                    "unique_id": s.unique_id,
                    "resource_type": "source",
                    "source_name": s.source_name,
                    "name": s.name,
                    "description": s.description,
                    "schema": s.relation.schema,
                    "identifier": s.relation.identifier,
                    "relation_name": s.relation.to_string(),
                    "external": s.external,
                    "loaded_at_field": s.loaded_at_field,
                    "freshness": s.freshness,
                    "original_file_path": s.path,
                }),
            )
        })
        .collect();
    let map =
        |edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>| -> Value {
            Value::Object(edges.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
        };
    json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "generator": "orderlake",
            "orderlake_version": env!("CARGO_PKG_VERSION"),
            "generated_at": chrono::Utc::now().to_rfc3339(),
            "project_name": project.name,
            "orderlake_warehouse": project.target.warehouse,
        },
        "nodes": nodes,
        "macros": project
            .macro_sources()
            .into_iter()
            .map(|(name, sql)| (name, json!({"macro_sql": sql})))
            .collect::<serde_json::Map<String, Value>>(),
        "sources": sources,
        "parent_map": map(&project.dag.parents),
        "child_map": map(&project.dag.children),
    })
}

pub fn write_manifest(project: &Project) -> Result<()> {
    write_json(
        &project.target_dir().join("manifest.json"),
        &manifest(project),
    )
}

pub fn write_run_results(project: &Project, results: &[NodeResult], elapsed: f64) -> Result<()> {
    let value = json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
            "generator": "orderlake",
            "generated_at": chrono::Utc::now().to_rfc3339(),
        },
        "elapsed_time": elapsed,
        "results": results.iter().map(|r| json!({
            "unique_id": r.unique_id,
            "status": r.status,
            "execution_time": r.execution_time,
            "rows_affected": r.rows,
            "failures": r.failures,
            "message": r.message,
            "relation_name": r.relation,
            "compiled_path": project.nodes.get(&r.unique_id).map(|n| project.compiled_path(n)),
        })).collect::<Vec<_>>(),
    });
    write_json(&project.target_dir().join("run_results.json"), &value)
}

pub fn write_sources(project: &Project, results: &[FreshnessResult]) -> Result<()> {
    write_json(
        &project.target_dir().join("sources.json"),
        &json!({"results": results}),
    )
}
