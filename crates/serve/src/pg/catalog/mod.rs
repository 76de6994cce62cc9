//! Enough of PostgreSQL's `pg_catalog` for real clients: psql's `\dt`, `\dn`, `\d`, SQLAlchemy's
//! reflection, the type loading of Npgsql and the JDBC driver. Every table is built from the
//! warehouse snapshot it belongs to, so OIDs agree across `pg_class`, `pg_namespace` and
//! `pg_attribute` for the life of a snapshot, and every table has one partition even when
//! empty (an empty partition list breaks joins on them).

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;
use pgwire::api::Type;

use crate::error::{Result, ServeError};

mod empty;
mod populated;
mod table;
mod types;

use empty::EMPTY_CATALOGS;
pub use populated::register;
pub(crate) use types::type_rows;
pub use types::{REGPROC_COLUMNS, format_type, pg_type, type_modifier};

/// The catalog's own schema name.
pub const PG_CATALOG: &str = "pg_catalog";
const PG_CATALOG_OID: u32 = 11;
const PUBLIC_OID: u32 = 2200;
const INFORMATION_SCHEMA_OID: u32 = 13_000;
const FIRST_USER_OID: u32 = 16_384;
/// The owner of everything: PostgreSQL's bootstrap superuser id.
pub const OWNER_OID: u32 = 10;
pub const OWNER_NAME: &str = "orderlake";

/// A column as clients see it.
#[derive(Debug, Clone)]
pub struct CatalogColumn {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// From the project's YAML (`columns: - name: ... description: ...`).
    pub description: Option<String>,
}

/// A warehouse table or view with the OIDs clients use to refer to it.
#[derive(Debug, Clone)]
pub struct CatalogRelation {
    pub oid: u32,
    pub namespace_oid: u32,
    pub schema: String,
    pub name: String,
    pub is_view: bool,
    pub columns: Vec<CatalogColumn>,
    /// The model's or source's description, shown by BI tools as the table comment.
    pub description: Option<String>,
    /// A view's SQL, as `pg_views.definition` and `pg_get_viewdef` show it.
    pub definition: Option<String>,
}

/// The OID of `pg_class` itself: `pg_description.classoid` of table and column comments.
pub const PG_CLASS_OID: u32 = 1259;

/// The catalogs that `'name'::regclass` resolves besides the warehouse's relations.
pub const SYSTEM_CLASS_OIDS: &[(&str, u32)] = &[
    ("pg_type", 1247),
    ("pg_attribute", 1249),
    ("pg_proc", 1255),
    ("pg_class", PG_CLASS_OID),
    ("pg_namespace", 2615),
    ("pg_constraint", 2606),
    ("pg_description", 2609),
    ("pg_index", 2610),
];

/// Assigns OIDs: schemas first, in name order, then relations in (schema, name) order.
pub fn describe(relations: Vec<(String, String, bool, SchemaRef)>) -> Vec<CatalogRelation> {
    let namespaces = namespace_oids(relations.iter().map(|r| r.0.as_str()));
    let mut sorted = relations;
    sorted.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let first = FIRST_USER_OID + 1_000;
    sorted
        .into_iter()
        .enumerate()
        .map(|(i, (schema, name, is_view, arrow))| CatalogRelation {
            oid: first + i as u32,
            namespace_oid: namespaces[&schema],
            columns: arrow
                .fields()
                .iter()
                .map(|f| CatalogColumn {
                    name: f.name().clone(),
                    data_type: f.data_type().clone(),
                    nullable: f.is_nullable(),
                    description: None,
                })
                .collect(),
            schema,
            name,
            is_view,
            description: None,
            definition: None,
        })
        .collect()
}

fn namespace_oids<'a>(schemas: impl Iterator<Item = &'a str>) -> BTreeMap<String, u32> {
    let mut names: Vec<&str> = schemas.collect();
    names.sort();
    names.dedup();
    let mut out = BTreeMap::new();
    out.insert(PG_CATALOG.to_string(), PG_CATALOG_OID);
    out.insert("public".to_string(), PUBLIC_OID);
    out.insert("information_schema".to_string(), INFORMATION_SCHEMA_OID);
    let mut next = FIRST_USER_OID;
    for name in names {
        if !out.contains_key(name) {
            out.insert(name.to_string(), next);
            next += 1;
        }
    }
    out
}

/// Catalog tables with rows, built from the snapshot in [`register`] ([`populated`]).
const POPULATED_CATALOGS: &[&str] = &[
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_type",
    "pg_proc",
    "pg_database",
    "pg_am",
    "pg_roles",
    "pg_authid",
    "pg_user",
    "pg_tables",
    "pg_views",
    "pg_settings",
    "pg_description",
];

type Columns = Vec<(&'static str, DataType)>;

/// Whether `name` is a catalog table that never has rows here ([`empty`]).
pub fn is_empty_catalog(name: &str) -> bool {
    EMPTY_CATALOGS.iter().any(|(n, _)| *n == name)
}

/// Whether `name` is one of our `pg_catalog` tables.
pub fn is_catalog_table(name: &str) -> bool {
    POPULATED_CATALOGS.contains(&name) || is_empty_catalog(name)
}
