//! The warehouse folder: the one place that knows how schemas, tables and views sit on disk.
//!
//! ```text
//! <warehouse>/<schema>/<name>/_delta_log/...   a table (Delta Lake)
//! <warehouse>/<schema>/<name>/view.sql         a view (its SELECT, re-planned on open)
//! <warehouse>/_orderlake/...                   orderlake's own tables (event log, ingest log)
//! ```
//!
//! Other folders starting with `_` or `.` are not schemas. Views are kept as SQL so they survive
//! the process and any tool can read what they are.

use std::path::{Path, PathBuf};

use orderlake_project::Relation;

use crate::error::{EngineError, Result};

/// The schema of orderlake's own tables: the run event log and the ingest log.
pub const SYSTEM_SCHEMA: &str = "_orderlake";

/// The file holding a view's SELECT inside its folder.
pub const VIEW_FILE: &str = "view.sql";

/// The folder of a Delta table's commits.
pub const DELTA_LOG: &str = "_delta_log";

/// What a relation in the warehouse is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}

/// One relation found in the warehouse folder.
#[derive(Debug, Clone)]
pub struct StoredRelation {
    pub schema: String,
    pub name: String,
    pub kind: RelationKind,
    /// Its folder.
    pub dir: PathBuf,
}

/// Where `relation` is stored below `root`.
pub fn relation_dir(root: &Path, relation: &Relation) -> PathBuf {
    root.join(&relation.schema).join(&relation.identifier)
}

/// What is stored in a relation's folder, if anything.
pub fn kind_of_dir(dir: &Path) -> Option<RelationKind> {
    if dir.join(DELTA_LOG).is_dir() {
        Some(RelationKind::Table)
    } else if dir.join(VIEW_FILE).is_file() {
        Some(RelationKind::View)
    } else {
        None
    }
}

/// Whether a folder directly below the warehouse root is a schema.
pub fn is_schema_folder(name: &str) -> bool {
    name == SYSTEM_SCHEMA || !(name.starts_with('_') || name.starts_with('.'))
}

/// Every relation below `root`, sorted by schema and name.
pub fn list(root: &Path) -> Result<Vec<StoredRelation>> {
    let mut out = Vec::new();
    for schema_dir in sorted_dirs(root)? {
        let schema = file_name(&schema_dir);
        if !is_schema_folder(&schema) {
            continue;
        }
        for dir in sorted_dirs(&schema_dir)? {
            if let Some(kind) = kind_of_dir(&dir) {
                out.push(StoredRelation {
                    schema: schema.clone(),
                    name: file_name(&dir),
                    kind,
                    dir,
                });
            }
        }
    }
    Ok(out)
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| EngineError::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_tables_and_views_of_schemas_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("gold/sales/_delta_log")).unwrap();
        std::fs::create_dir_all(root.join("gold/v")).unwrap();
        std::fs::write(root.join("gold/v/view.sql"), "select 1").unwrap();
        std::fs::create_dir_all(root.join("_orderlake/events/_delta_log")).unwrap();
        std::fs::create_dir_all(root.join("_scratch/t/_delta_log")).unwrap();
        std::fs::create_dir_all(root.join("gold/empty")).unwrap();
        let found: Vec<(String, String, RelationKind)> = list(root)
            .unwrap()
            .into_iter()
            .map(|r| (r.schema, r.name, r.kind))
            .collect();
        assert_eq!(
            found,
            vec![
                ("_orderlake".into(), "events".into(), RelationKind::Table),
                ("gold".into(), "sales".into(), RelationKind::Table),
                ("gold".into(), "v".into(), RelationKind::View),
            ]
        );
    }
}
