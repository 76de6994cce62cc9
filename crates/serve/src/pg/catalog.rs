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
}

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
                })
                .collect(),
            schema,
            name,
            is_view,
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

/// PostgreSQL's type for an Arrow type, as result columns and `pg_attribute` report it.
pub fn pg_type(data_type: &DataType) -> Type {
    match data_type {
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::UInt32 => Type::OID,
        DataType::Int64 | DataType::UInt64 => Type::INT8,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Type::NUMERIC,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::TEXT,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Type::BYTEA,
        DataType::Date32 | DataType::Date64 => Type::DATE,
        DataType::Time32(_) | DataType::Time64(_) => Type::TIME,
        DataType::Timestamp(_, None) => Type::TIMESTAMP,
        DataType::Timestamp(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Interval(_) | DataType::Duration(_) => Type::INTERVAL,
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) => {
            match pg_type(f.data_type()) {
                Type::BOOL => Type::BOOL_ARRAY,
                Type::INT2 => Type::INT2_ARRAY,
                Type::INT4 => Type::INT4_ARRAY,
                Type::INT8 => Type::INT8_ARRAY,
                Type::OID => Type::OID_ARRAY,
                Type::FLOAT4 => Type::FLOAT4_ARRAY,
                Type::FLOAT8 => Type::FLOAT8_ARRAY,
                _ => Type::TEXT_ARRAY,
            }
        }
        _ => Type::TEXT,
    }
}

/// `format_type(oid, typmod)` for the types we report.
pub fn format_type(oid: u32, typmod: i32) -> Option<String> {
    let name = match oid {
        1700 if typmod > 4 => {
            let m = typmod - 4;
            return Some(format!("numeric({},{})", m >> 16, m & 0xffff));
        }
        1043 if typmod > 4 => return Some(format!("character varying({})", typmod - 4)),
        16 => "boolean",
        17 => "bytea",
        18 => "\"char\"",
        19 => "name",
        20 => "bigint",
        21 => "smallint",
        23 => "integer",
        25 => "text",
        26 => "oid",
        700 => "real",
        701 => "double precision",
        1043 => "character varying",
        1082 => "date",
        1083 => "time without time zone",
        1114 => "timestamp without time zone",
        1184 => "timestamp with time zone",
        1186 => "interval",
        1700 => "numeric",
        other => return Type::from_oid(other).map(|t| t.name().to_string()),
    };
    Some(name.to_string())
}

/// `atttypmod` of a column: numeric precision and scale packed as PostgreSQL does.
pub fn type_modifier(data_type: &DataType) -> i32 {
    match data_type {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            ((i32::from(*p) << 16) | (i32::from(*s) & 0xffff)) + 4
        }
        _ => -1,
    }
}

/// (oid, name, length, category, element oid, array oid)
const TYPES: &[(u32, &str, i16, &str, u32, u32)] = &[
    (16, "bool", 1, "B", 0, 1000),
    (17, "bytea", -1, "U", 0, 1001),
    (18, "char", 1, "Z", 0, 1002),
    (19, "name", 64, "S", 0, 1003),
    (20, "int8", 8, "N", 0, 1016),
    (21, "int2", 2, "N", 0, 1005),
    (22, "int2vector", -1, "A", 21, 1006),
    (23, "int4", 4, "N", 0, 1007),
    (24, "regproc", 4, "N", 0, 1008),
    (25, "text", -1, "S", 0, 1009),
    (26, "oid", 4, "N", 0, 1028),
    (30, "oidvector", -1, "A", 26, 1013),
    (114, "json", -1, "U", 0, 199),
    (700, "float4", 4, "N", 0, 1021),
    (701, "float8", 8, "N", 0, 1022),
    (705, "unknown", -2, "X", 0, 0),
    (1042, "bpchar", -1, "S", 0, 1014),
    (1043, "varchar", -1, "S", 0, 1015),
    (1082, "date", 4, "D", 0, 1182),
    (1083, "time", 8, "D", 0, 1183),
    (1114, "timestamp", 8, "D", 0, 1115),
    (1184, "timestamptz", 8, "D", 0, 1185),
    (1186, "interval", 16, "T", 0, 1187),
    (1700, "numeric", -1, "N", 0, 1231),
    (2205, "regclass", 4, "N", 0, 2210),
    (2206, "regtype", 4, "N", 0, 2211),
    (2249, "record", -1, "P", 0, 2287),
    (2278, "void", 4, "P", 0, 0),
    (2950, "uuid", 16, "U", 0, 2951),
    (3802, "jsonb", -1, "U", 0, 3807),
];

/// The OID of `array_recv`, which drivers use to tell arrays from other types.
const ARRAY_RECV_OID: u32 = 2400;

pub(crate) fn type_rows() -> Vec<(u32, String, i16, String, u32, u32, &'static str)> {
    let mut rows = Vec::new();
    for &(oid, name, len, category, elem, array) in TYPES {
        let kind = if category == "P" { "p" } else { "b" };
        rows.push((
            oid,
            name.to_string(),
            len,
            category.to_string(),
            elem,
            array,
            kind,
        ));
        if array != 0 {
            rows.push((array, format!("_{name}"), -1, "A".into(), oid, 0, "b"));
        }
    }
    rows
}

struct TableBuilder {
    fields: Vec<Field>,
    rows: Vec<Vec<ScalarValue>>,
}

impl TableBuilder {
    fn new(columns: &[(&str, DataType)]) -> Self {
        TableBuilder {
            fields: columns
                .iter()
                .map(|(name, t)| Field::new(*name, t.clone(), true))
                .collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, values: Vec<ScalarValue>) {
        debug_assert_eq!(values.len(), self.fields.len());
        self.rows.push(values);
    }

    fn build(self) -> Result<Arc<MemTable>> {
        let schema = Arc::new(Schema::new(self.fields));
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (i, field) in schema.fields().iter().enumerate() {
            let array = if self.rows.is_empty() {
                datafusion::arrow::array::new_empty_array(field.data_type())
            } else {
                ScalarValue::iter_to_array(self.rows.iter().map(|r| r[i].clone()))?
            };
            columns.push(array);
        }
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| ServeError::Invalid(format!("pg_catalog: {e}")))?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

fn oid(v: u32) -> ScalarValue {
    ScalarValue::UInt32(Some(v))
}
fn text(v: impl Into<String>) -> ScalarValue {
    ScalarValue::Utf8(Some(v.into()))
}
fn null_text() -> ScalarValue {
    ScalarValue::Utf8(None)
}
fn boolean(v: bool) -> ScalarValue {
    ScalarValue::Boolean(Some(v))
}
fn int2(v: i16) -> ScalarValue {
    ScalarValue::Int16(Some(v))
}
fn int4(v: i32) -> ScalarValue {
    ScalarValue::Int32(Some(v))
}
fn text_list_null() -> ScalarValue {
    ScalarValue::new_null_list(DataType::Utf8, true, 1)
}

const OID: DataType = DataType::UInt32;
const TEXT: DataType = DataType::Utf8;
const BOOL: DataType = DataType::Boolean;
const INT2: DataType = DataType::Int16;
const INT4: DataType = DataType::Int32;

fn text_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// Catalog tables with rows, built from the snapshot in [`register`].
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
];

type Columns = Vec<(&'static str, DataType)>;

/// Catalogs that are empty here (no indexes, constraints, defaults, ranges, enums, ...):
/// present with their columns so joins on them plan and return nothing. The SQL rewriter
/// also answers subqueries over them without planning them ([`is_empty_catalog`]).
static EMPTY_CATALOGS: LazyLock<Vec<(&'static str, Columns)>> = LazyLock::new(|| {
    let specs: &[(&'static str, &[(&'static str, DataType)])] = &[
        (
            "pg_index",
            &[
                ("indexrelid", OID),
                ("indrelid", OID),
                ("indnatts", INT2),
                ("indnkeyatts", INT2),
                ("indisunique", BOOL),
                ("indisprimary", BOOL),
                ("indisexclusion", BOOL),
                ("indimmediate", BOOL),
                ("indisclustered", BOOL),
                ("indisvalid", BOOL),
                ("indisreplident", BOOL),
                ("indkey", TEXT),
                ("indoption", TEXT),
                ("indexprs", TEXT),
                ("indpred", TEXT),
                ("indnullsnotdistinct", BOOL),
            ],
        ),
        (
            "pg_constraint",
            &[
                ("oid", OID),
                ("conname", TEXT),
                ("connamespace", OID),
                ("contype", TEXT),
                ("condeferrable", BOOL),
                ("condeferred", BOOL),
                ("convalidated", BOOL),
                ("conrelid", OID),
                ("contypid", OID),
                ("conindid", OID),
                ("conparentid", OID),
                ("confrelid", OID),
                ("confupdtype", TEXT),
                ("confdeltype", TEXT),
                ("confmatchtype", TEXT),
                ("conislocal", BOOL),
                ("coninhcount", INT4),
                ("connoinherit", BOOL),
                ("conkey", TEXT),
                ("confkey", TEXT),
                ("conbin", TEXT),
            ],
        ),
        (
            "pg_attrdef",
            &[
                ("oid", OID),
                ("adrelid", OID),
                ("adnum", INT2),
                ("adbin", TEXT),
            ],
        ),
        (
            "pg_description",
            &[
                ("objoid", OID),
                ("classoid", OID),
                ("objsubid", INT4),
                ("description", TEXT),
            ],
        ),
        (
            "pg_shdescription",
            &[("objoid", OID), ("classoid", OID), ("description", TEXT)],
        ),
        (
            "pg_range",
            &[
                ("rngtypid", OID),
                ("rngsubtype", OID),
                ("rngmultitypid", OID),
                ("rngcollation", OID),
                ("rngsubopc", OID),
                ("rngcanonical", OID),
                ("rngsubdiff", OID),
            ],
        ),
        (
            "pg_enum",
            &[
                ("oid", OID),
                ("enumtypid", OID),
                ("enumsortorder", DataType::Float32),
                ("enumlabel", TEXT),
            ],
        ),
        (
            "pg_inherits",
            &[
                ("inhrelid", OID),
                ("inhparent", OID),
                ("inhseqno", INT4),
                ("inhdetachpending", BOOL),
            ],
        ),
        (
            "pg_collation",
            &[("oid", OID), ("collname", TEXT), ("collnamespace", OID)],
        ),
        (
            "pg_trigger",
            &[
                ("oid", OID),
                ("tgrelid", OID),
                ("tgname", TEXT),
                ("tgenabled", TEXT),
                ("tgisinternal", BOOL),
            ],
        ),
        (
            "pg_rewrite",
            &[("oid", OID), ("rulename", TEXT), ("ev_class", OID)],
        ),
        (
            "pg_policy",
            &[
                ("oid", OID),
                ("polname", TEXT),
                ("polrelid", OID),
                ("polcmd", TEXT),
                ("polpermissive", BOOL),
                ("polroles", TEXT),
                ("polqual", TEXT),
                ("polwithcheck", TEXT),
            ],
        ),
        (
            "pg_statistic_ext",
            &[
                ("oid", OID),
                ("stxrelid", OID),
                ("stxname", TEXT),
                ("stxnamespace", OID),
                ("stxkind", text_list()),
                ("stxstattarget", INT4),
            ],
        ),
        (
            "pg_publication",
            &[("oid", OID), ("pubname", TEXT), ("puballtables", BOOL)],
        ),
        (
            "pg_publication_rel",
            &[("oid", OID), ("prpubid", OID), ("prrelid", OID)],
        ),
        (
            "pg_publication_namespace",
            &[("oid", OID), ("pnpubid", OID), ("pnnspid", OID)],
        ),
        (
            "pg_partitioned_table",
            &[("partrelid", OID), ("partstrat", TEXT)],
        ),
        ("pg_foreign_table", &[("ftrelid", OID), ("ftserver", OID)]),
        ("pg_sequence", &[("seqrelid", OID), ("seqtypid", OID)]),
        (
            "pg_extension",
            &[
                ("oid", OID),
                ("extname", TEXT),
                ("extowner", OID),
                ("extnamespace", OID),
                ("extversion", TEXT),
            ],
        ),
        (
            "pg_matviews",
            &[
                ("schemaname", TEXT),
                ("matviewname", TEXT),
                ("matviewowner", TEXT),
                ("definition", TEXT),
            ],
        ),
        (
            "pg_tablespace",
            &[("oid", OID), ("spcname", TEXT), ("spcowner", OID)],
        ),
        (
            "pg_opclass",
            &[
                ("oid", OID),
                ("opcmethod", OID),
                ("opcname", TEXT),
                ("opcnamespace", OID),
                ("opcdefault", BOOL),
                ("opcintype", OID),
            ],
        ),
        (
            "pg_depend",
            &[
                ("classid", OID),
                ("objid", OID),
                ("objsubid", INT4),
                ("refclassid", OID),
                ("refobjid", OID),
                ("refobjsubid", INT4),
                ("deptype", TEXT),
            ],
        ),
    ];
    specs
        .iter()
        .map(|(name, columns)| (*name, columns.to_vec()))
        .collect()
});

/// Whether `name` is a catalog table that never has rows here.
pub fn is_empty_catalog(name: &str) -> bool {
    EMPTY_CATALOGS.iter().any(|(n, _)| *n == name)
}

/// Whether `name` is one of our `pg_catalog` tables.
pub fn is_catalog_table(name: &str) -> bool {
    POPULATED_CATALOGS.contains(&name) || is_empty_catalog(name)
}

/// Registers the `pg_catalog` schema describing `relations` on `ctx`.
pub fn register(ctx: &SessionContext, relations: &[CatalogRelation], database: &str) -> Result<()> {
    let schema = Arc::new(MemorySchemaProvider::new());
    let namespaces = namespace_oids(relations.iter().map(|r| r.schema.as_str()));

    let mut t = TableBuilder::new(&[
        ("oid", OID),
        ("nspname", TEXT),
        ("nspowner", OID),
        ("nspacl", TEXT),
    ]);
    for (name, oid_) in &namespaces {
        t.row(vec![oid(*oid_), text(name), oid(OWNER_OID), null_text()]);
    }
    schema.register_table("pg_namespace".into(), t.build()?)?;

    let mut t = TableBuilder::new(&[
        ("oid", OID),
        ("relname", TEXT),
        ("relnamespace", OID),
        ("reltype", OID),
        ("reloftype", OID),
        ("relowner", OID),
        ("relam", OID),
        ("relfilenode", OID),
        ("reltablespace", OID),
        ("relpages", INT4),
        ("reltuples", DataType::Float32),
        ("relallvisible", INT4),
        ("reltoastrelid", OID),
        ("relhasindex", BOOL),
        ("relisshared", BOOL),
        ("relpersistence", TEXT),
        ("relkind", TEXT),
        ("relnatts", INT2),
        ("relchecks", INT2),
        ("relhasrules", BOOL),
        ("relhastriggers", BOOL),
        ("relhassubclass", BOOL),
        ("relrowsecurity", BOOL),
        ("relforcerowsecurity", BOOL),
        ("relispopulated", BOOL),
        ("relreplident", TEXT),
        ("relispartition", BOOL),
        ("relrewrite", OID),
        ("relacl", TEXT),
        ("reloptions", text_list()),
        ("relpartbound", TEXT),
    ]);
    for r in relations {
        t.row(vec![
            oid(r.oid),
            text(&r.name),
            oid(r.namespace_oid),
            oid(0),
            oid(0),
            oid(OWNER_OID),
            oid(if r.is_view { 0 } else { 2 }),
            oid(r.oid),
            oid(0),
            int4(0),
            ScalarValue::Float32(Some(-1.0)),
            int4(0),
            oid(0),
            boolean(false),
            boolean(false),
            text("p"),
            text(if r.is_view { "v" } else { "r" }),
            int2(r.columns.len() as i16),
            int2(0),
            boolean(r.is_view),
            boolean(false),
            boolean(false),
            boolean(false),
            boolean(false),
            boolean(true),
            text("d"),
            boolean(false),
            oid(0),
            null_text(),
            text_list_null(),
            null_text(),
        ]);
    }
    schema.register_table("pg_class".into(), t.build()?)?;

    let mut t = TableBuilder::new(&[
        ("attrelid", OID),
        ("attname", TEXT),
        ("atttypid", OID),
        ("attstattarget", INT4),
        ("attlen", INT2),
        ("attnum", INT2),
        ("attndims", INT4),
        ("attcacheoff", INT4),
        ("atttypmod", INT4),
        ("attbyval", BOOL),
        ("attalign", TEXT),
        ("attstorage", TEXT),
        ("attcompression", TEXT),
        ("attnotnull", BOOL),
        ("atthasdef", BOOL),
        ("atthasmissing", BOOL),
        ("attidentity", TEXT),
        ("attgenerated", TEXT),
        ("attisdropped", BOOL),
        ("attislocal", BOOL),
        ("attinhcount", INT4),
        ("attcollation", OID),
        ("attacl", TEXT),
        ("attoptions", text_list()),
        ("attfdwoptions", text_list()),
    ]);
    for r in relations {
        for (i, c) in r.columns.iter().enumerate() {
            let ty = pg_type(&c.data_type);
            let is_array = ty.name().starts_with('_');
            t.row(vec![
                oid(r.oid),
                text(&c.name),
                oid(ty.oid()),
                int4(-1),
                int2(-1),
                int2(i as i16 + 1),
                int4(i32::from(is_array)),
                int4(-1),
                int4(type_modifier(&c.data_type)),
                boolean(false),
                text("i"),
                text("x"),
                text(""),
                boolean(!c.nullable),
                boolean(false),
                boolean(false),
                text(""),
                text(""),
                boolean(false),
                boolean(true),
                int4(0),
                oid(if ty == Type::TEXT { 100 } else { 0 }),
                null_text(),
                text_list_null(),
                text_list_null(),
            ]);
        }
    }
    schema.register_table("pg_attribute".into(), t.build()?)?;

    let mut t = TableBuilder::new(&[
        ("oid", OID),
        ("typname", TEXT),
        ("typnamespace", OID),
        ("typowner", OID),
        ("typlen", INT2),
        ("typbyval", BOOL),
        ("typtype", TEXT),
        ("typcategory", TEXT),
        ("typispreferred", BOOL),
        ("typisdefined", BOOL),
        ("typdelim", TEXT),
        ("typrelid", OID),
        ("typsubscript", OID),
        ("typelem", OID),
        ("typarray", OID),
        ("typinput", OID),
        ("typoutput", OID),
        ("typreceive", OID),
        ("typsend", OID),
        ("typmodin", OID),
        ("typmodout", OID),
        ("typanalyze", OID),
        ("typalign", TEXT),
        ("typstorage", TEXT),
        ("typnotnull", BOOL),
        ("typbasetype", OID),
        ("typtypmod", INT4),
        ("typndims", INT4),
        ("typcollation", OID),
        ("typdefaultbin", TEXT),
        ("typdefault", TEXT),
        ("typacl", TEXT),
    ]);
    for (oid_, name, len, category, elem, array, kind) in type_rows() {
        let is_array = category == "A" && name.starts_with('_');
        t.row(vec![
            oid(oid_),
            text(name),
            oid(PG_CATALOG_OID),
            oid(OWNER_OID),
            int2(len),
            boolean(len > 0 && len <= 8),
            text(kind),
            text(category),
            boolean(false),
            boolean(true),
            text(","),
            oid(0),
            oid(0),
            oid(elem),
            oid(array),
            oid(0),
            oid(0),
            oid(if is_array { ARRAY_RECV_OID } else { 0 }),
            oid(0),
            oid(0),
            oid(0),
            oid(0),
            text("i"),
            text("p"),
            boolean(false),
            oid(0),
            int4(-1),
            int4(0),
            oid(if oid_ == 25 || oid_ == 1043 { 100 } else { 0 }),
            null_text(),
            null_text(),
            null_text(),
        ]);
    }
    schema.register_table("pg_type".into(), t.build()?)?;

    let mut t = TableBuilder::new(&[
        ("oid", OID),
        ("proname", TEXT),
        ("pronamespace", OID),
        ("proowner", OID),
        ("prorettype", OID),
        ("prokind", TEXT),
    ]);
    t.row(vec![
        oid(ARRAY_RECV_OID),
        text("array_recv"),
        oid(PG_CATALOG_OID),
        oid(OWNER_OID),
        oid(2277),
        text("f"),
    ]);
    schema.register_table("pg_proc".into(), t.build()?)?;

    let mut t = TableBuilder::new(&[
        ("oid", OID),
        ("datname", TEXT),
        ("datdba", OID),
        ("encoding", INT4),
        ("datlocprovider", TEXT),
        ("datistemplate", BOOL),
        ("datallowconn", BOOL),
        ("datconnlimit", INT4),
        ("datcollate", TEXT),
        ("datctype", TEXT),
        ("daticulocale", TEXT),
        ("datacl", TEXT),
        ("dattablespace", OID),
    ]);
    t.row(vec![
        oid(FIRST_USER_OID - 1),
        text(database),
        oid(OWNER_OID),
        int4(6),
        text("c"),
        boolean(false),
        boolean(true),
        int4(-1),
        text("C.UTF-8"),
        text("C.UTF-8"),
        null_text(),
        null_text(),
        oid(1663),
    ]);
    schema.register_table("pg_database".into(), t.build()?)?;

    let mut t = TableBuilder::new(&[
        ("oid", OID),
        ("amname", TEXT),
        ("amhandler", OID),
        ("amtype", TEXT),
    ]);
    t.row(vec![oid(2), text("heap"), oid(0), text("t")]);
    t.row(vec![oid(403), text("btree"), oid(0), text("i")]);
    schema.register_table("pg_am".into(), t.build()?)?;

    let roles = [
        ("oid", OID),
        ("rolname", TEXT),
        ("rolsuper", BOOL),
        ("rolinherit", BOOL),
        ("rolcreaterole", BOOL),
        ("rolcreatedb", BOOL),
        ("rolcanlogin", BOOL),
        ("rolreplication", BOOL),
        ("rolconnlimit", INT4),
        ("rolvaliduntil", TEXT),
        ("rolbypassrls", BOOL),
        ("rolconfig", text_list()),
    ];
    let role_row = || {
        vec![
            oid(OWNER_OID),
            text(OWNER_NAME),
            boolean(false),
            boolean(true),
            boolean(false),
            boolean(false),
            boolean(true),
            boolean(false),
            int4(-1),
            null_text(),
            boolean(false),
            text_list_null(),
        ]
    };
    for name in ["pg_roles", "pg_authid"] {
        let mut t = TableBuilder::new(&roles);
        t.row(role_row());
        schema.register_table(name.into(), t.build()?)?;
    }
    let mut t = TableBuilder::new(&[
        ("usename", TEXT),
        ("usesysid", OID),
        ("usecreatedb", BOOL),
        ("usesuper", BOOL),
    ]);
    t.row(vec![
        text(OWNER_NAME),
        oid(OWNER_OID),
        boolean(false),
        boolean(false),
    ]);
    schema.register_table("pg_user".into(), t.build()?)?;

    let mut t = TableBuilder::new(&[
        ("schemaname", TEXT),
        ("tablename", TEXT),
        ("tableowner", TEXT),
        ("tablespace", TEXT),
        ("hasindexes", BOOL),
        ("hasrules", BOOL),
        ("hastriggers", BOOL),
        ("rowsecurity", BOOL),
    ]);
    for r in relations.iter().filter(|r| !r.is_view) {
        t.row(vec![
            text(&r.schema),
            text(&r.name),
            text(OWNER_NAME),
            null_text(),
            boolean(false),
            boolean(false),
            boolean(false),
            boolean(false),
        ]);
    }
    schema.register_table("pg_tables".into(), t.build()?)?;

    let mut t = TableBuilder::new(&[
        ("schemaname", TEXT),
        ("viewname", TEXT),
        ("viewowner", TEXT),
        ("definition", TEXT),
    ]);
    for r in relations.iter().filter(|r| r.is_view) {
        t.row(vec![
            text(&r.schema),
            text(&r.name),
            text(OWNER_NAME),
            null_text(),
        ]);
    }
    schema.register_table("pg_views".into(), t.build()?)?;

    let mut t = TableBuilder::new(&[
        ("name", TEXT),
        ("setting", TEXT),
        ("unit", TEXT),
        ("category", TEXT),
        ("short_desc", TEXT),
        ("vartype", TEXT),
    ]);
    for (name, value) in crate::pg::session::SETTINGS {
        t.row(vec![
            text(*name),
            text(*value),
            null_text(),
            text("orderlake"),
            null_text(),
            text("string"),
        ]);
    }
    schema.register_table("pg_settings".into(), t.build()?)?;

    for (name, columns) in EMPTY_CATALOGS.iter() {
        schema.register_table((*name).into(), TableBuilder::new(columns).build()?)?;
    }

    let catalog = ctx
        .catalog(orderlake_engine::warehouse::CATALOG)
        .ok_or_else(|| ServeError::Invalid("the warehouse catalog is missing".into()))?;
    catalog.register_schema(PG_CATALOG, schema as Arc<dyn SchemaProvider>)?;
    crate::pg::functions::register(ctx, relations, &namespaces, database);
    Ok(())
}
