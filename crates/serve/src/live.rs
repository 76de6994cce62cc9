//! The warehouse as served: a snapshot of every table and view, replaced by a fresh one when a
//! build or an ingest commits, so dashboards and SQL clients see new gold without a restart.
//!
//! A query holds the snapshot it started on (`Arc<Snapshot>`), so a refresh never changes the
//! data under a running query; the old snapshot goes away with its last reader.

use std::sync::{Arc, RwLock};

use datafusion::arrow::datatypes::SchemaRef;
use orderlake_engine::layout::{self, Fingerprint};
use orderlake_engine::storage::Store;
use orderlake_engine::{RelationKind, Warehouse};
use orderlake_project::Project;

use crate::error::{Result, ServeError};
use crate::pg::catalog::{self, CatalogRelation};

/// One consistent view of the warehouse, with the pg_catalog tables describing it.
pub struct Snapshot {
    pub warehouse: Warehouse,
    /// Bumped on each refresh; dashboards poll it to know when to redraw.
    pub version: u64,
    pub relations: Vec<CatalogRelation>,
    pub opened_at: chrono::DateTime<chrono::Utc>,
    /// The sales channels, asked once per snapshot: every dashboard request validates its
    /// channel filter against them.
    pub(crate) channels: tokio::sync::OnceCell<Vec<String>>,
}

impl Snapshot {
    /// The schema of `schema.name`, if the warehouse has it.
    pub fn relation(&self, schema: &str, name: &str) -> Option<&CatalogRelation> {
        self.relations
            .iter()
            .find(|r| r.schema == schema && r.name == name)
    }
}

/// The served warehouse: the current snapshot and how to open the next one.
pub struct Live {
    project: Arc<Project>,
    current: RwLock<Arc<Snapshot>>,
    fingerprint: std::sync::Mutex<Fingerprint>,
    /// Where the warehouse is, listed on each refresh.
    store: Store,
}

impl Live {
    /// Opens the project's warehouse.
    pub async fn open(project: Arc<Project>) -> Result<Arc<Live>> {
        let store = Store::open(&project.target.warehouse)
            .await
            .map_err(|e| warehouse_error(&project, &e))?;
        let fingerprint = fingerprint(&store).await;
        let snapshot = open_snapshot(&project, 1).await?;
        Ok(Arc::new(Live {
            project,
            current: RwLock::new(Arc::new(snapshot)),
            fingerprint: std::sync::Mutex::new(fingerprint),
            store,
        }))
    }

    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The snapshot queries should run on now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Opens a new snapshot when anything in the warehouse folder changed since the last one.
    /// Returns whether it did.
    pub async fn refresh(&self) -> Result<bool> {
        let now = fingerprint(&self.store).await;
        {
            let last = self.fingerprint.lock().unwrap_or_else(|p| p.into_inner());
            if *last == now {
                return Ok(false);
            }
        }
        let version = self.snapshot().version + 1;
        let snapshot = open_snapshot(&self.project, version).await?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
        *self.fingerprint.lock().unwrap_or_else(|p| p.into_inner()) = now;
        tracing::info!(version, "warehouse changed: new snapshot");
        Ok(true)
    }
}

fn warehouse_error(project: &Project, e: &orderlake_engine::EngineError) -> ServeError {
    ServeError::Warehouse(
        project.target.warehouse.clone(),
        orderlake_engine::report(e),
    )
}

async fn open_snapshot(project: &Project, version: u64) -> Result<Snapshot> {
    let warehouse = orderlake_engine::invocation::open_warehouse(project)
        .await
        .map_err(|e| warehouse_error(project, &e))?;
    let mut relations = Vec::new();
    let mut definitions = std::collections::HashMap::new();
    let stored = warehouse
        .list()
        .await
        .map_err(|e| warehouse_error(project, &e))?;
    for r in stored {
        let Some(schema) = table_schema(&warehouse, &r.schema, &r.name).await else {
            continue;
        };
        if r.kind == RelationKind::View
            && let Ok(Some(sql)) = warehouse.view_sql(&r.relation()).await
        {
            definitions.insert((r.schema.clone(), r.name.clone()), sql);
        }
        relations.push((r.schema, r.name, r.kind == RelationKind::View, schema));
    }
    let mut relations = catalog::describe(relations);
    for relation in &mut relations {
        relation.definition = definitions.remove(&(relation.schema.clone(), relation.name.clone()));
        describe_from_project(project, relation);
    }
    catalog::register(warehouse.context(), &relations, &project.name)?;
    Ok(Snapshot {
        warehouse,
        version,
        relations,
        opened_at: chrono::Utc::now(),
        channels: tokio::sync::OnceCell::new(),
    })
}

/// The project's YAML descriptions of a model, seed, snapshot or source and of its columns:
/// what BI tools show as table and column comments.
fn describe_from_project(project: &Project, relation: &mut CatalogRelation) {
    let is_it = |r: &orderlake_project::Relation| {
        r.schema == relation.schema && r.identifier == relation.name
    };
    let (description, columns) = match project
        .nodes
        .values()
        .find(|n| n.relation.as_ref().is_some_and(is_it))
    {
        Some(node) => (&node.description, &node.columns),
        None => match project.sources.values().find(|s| is_it(&s.relation)) {
            Some(source) => (&source.description, &source.columns),
            None => return,
        },
    };
    relation.description = Some(description.trim().to_string()).filter(|d| !d.is_empty());
    for column in &mut relation.columns {
        column.description = columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&column.name))
            .and_then(|c| c.description.as_deref())
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
    }
}

async fn table_schema(warehouse: &Warehouse, schema: &str, name: &str) -> Option<SchemaRef> {
    let reference = datafusion::common::TableReference::partial(schema, name);
    let provider = warehouse.context().table_provider(reference).await.ok()?;
    Some(provider.schema())
}

/// The warehouse's fingerprint; one that cannot be listed right now has none (empty): the
/// next poll tries again.
async fn fingerprint(store: &Store) -> Fingerprint {
    layout::fingerprint(store).await.unwrap_or_default()
}
