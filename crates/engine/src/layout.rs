//! The warehouse's layout: the one place that knows how schemas, tables and views sit in its
//! storage (a folder or an object-store prefix, see [`crate::storage`]).
//!
//! ```text
//! <warehouse>/<schema>/<name>/_delta_log/...   a table (Delta Lake)
//! <warehouse>/<schema>/<name>/view.sql         a view (its SELECT, re-planned on open)
//! <warehouse>/_orderlake/...                   orderlake's own tables (event log, ingest log)
//! ```
//!
//! Other folders starting with `_` or `.` are not schemas. Views are kept as SQL so they survive
//! the process and any tool can read what they are.

use orderlake_project::Relation;

use crate::error::Result;
use crate::storage::Store;

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

/// One relation found in the warehouse.
#[derive(Debug, Clone)]
pub struct StoredRelation {
    pub schema: String,
    pub name: String,
    pub kind: RelationKind,
}

impl StoredRelation {
    pub fn relation(&self) -> Relation {
        Relation::new(self.schema.clone(), self.name.clone())
    }
}

/// The path parts of `relation`'s folder below the warehouse root.
pub fn relation_parts(relation: &Relation) -> [&str; 2] {
    [relation.schema.as_str(), relation.identifier.as_str()]
}

/// The path parts of a view's SQL file.
pub fn view_file_parts(relation: &Relation) -> [&str; 3] {
    [
        relation.schema.as_str(),
        relation.identifier.as_str(),
        VIEW_FILE,
    ]
}

/// What is stored for `relation`, if anything.
pub async fn kind_of(store: &Store, relation: &Relation) -> Result<Option<RelationKind>> {
    let listing = store.list(&relation_parts(relation)).await?;
    Ok(kind_from(&listing))
}

fn kind_from(listing: &crate::storage::Listing) -> Option<RelationKind> {
    if listing.folders.iter().any(|f| f == DELTA_LOG) {
        Some(RelationKind::Table)
    } else if listing.files.iter().any(|(name, _, _)| name == VIEW_FILE) {
        Some(RelationKind::View)
    } else {
        None
    }
}

/// Whether a folder directly below the warehouse root is a schema.
pub fn is_schema_folder(name: &str) -> bool {
    name == SYSTEM_SCHEMA || !(name.starts_with('_') || name.starts_with('.'))
}

/// Every relation in the warehouse, sorted by schema and name.
pub async fn list(store: &Store) -> Result<Vec<StoredRelation>> {
    let mut out = Vec::new();
    for schema in store.list(&[]).await?.folders {
        if !is_schema_folder(&schema) {
            continue;
        }
        for name in store.list(&[&schema]).await?.folders {
            if let Some(kind) = kind_from(&store.list(&[&schema, &name]).await?) {
                out.push(StoredRelation {
                    schema: schema.clone(),
                    name,
                    kind,
                });
            }
        }
    }
    Ok(out)
}

/// What changes in storage when any table or view changes: per relation, the number of log
/// files and the newest one's time (a table), or the view file's time and size.
pub type Fingerprint = Vec<(String, u64, Option<chrono::DateTime<chrono::Utc>>)>;

/// The warehouse's [`Fingerprint`] now.
pub async fn fingerprint(store: &Store) -> Result<Fingerprint> {
    let mut out = Vec::new();
    for relation in list(store).await? {
        let (schema, name) = (relation.schema.as_str(), relation.name.as_str());
        let key = format!("{schema}.{name}");
        match relation.kind {
            RelationKind::Table => {
                let log = store.list(&[schema, name, DELTA_LOG]).await?;
                let newest = log.files.iter().map(|(_, _, at)| *at).max();
                out.push((key, log.files.len() as u64, newest));
            }
            RelationKind::View => {
                let files = store.list(&[schema, name]).await?.files;
                let view = files.iter().find(|(n, _, _)| n == VIEW_FILE);
                out.push((key, view.map_or(0, |v| v.1), view.map(|v| v.2)));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lists_tables_and_views_of_schemas_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("gold/sales/_delta_log")).unwrap();
        std::fs::create_dir_all(root.join("gold/v")).unwrap();
        std::fs::write(root.join("gold/v/view.sql"), "select 1").unwrap();
        std::fs::create_dir_all(root.join("_orderlake/events/_delta_log")).unwrap();
        std::fs::create_dir_all(root.join("_scratch/t/_delta_log")).unwrap();
        std::fs::create_dir_all(root.join("gold/empty")).unwrap();
        let store = Store::open(&orderlake_project::StorageLocation::Folder(
            root.to_path_buf(),
        ))
        .await
        .unwrap();
        let found: Vec<(String, String, RelationKind)> = list(&store)
            .await
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
        let before = fingerprint(&store).await.unwrap();
        std::fs::write(
            root.join("gold/sales/_delta_log/00000000000000000000.json"),
            "{}",
        )
        .unwrap();
        assert_ne!(
            fingerprint(&store).await.unwrap(),
            before,
            "a commit changes it"
        );
    }
}
