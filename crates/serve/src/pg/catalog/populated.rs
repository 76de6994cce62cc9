//! The catalogs with rows, built from one warehouse snapshot: namespaces, classes, attributes,
//! types, procs, databases, roles, tables, views and settings.

use super::table::*;
use super::types::*;
use super::*;

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
        ("typinput", TEXT),
        ("typoutput", TEXT),
        ("typreceive", TEXT),
        ("typsend", TEXT),
        ("typmodin", TEXT),
        ("typmodout", TEXT),
        ("typanalyze", TEXT),
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
            text(&name),
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
            text(io_function(&name, is_array, "in")),
            text(io_function(&name, is_array, "out")),
            text(io_function(&name, is_array, "recv")),
            text(io_function(&name, is_array, "send")),
            text("-"),
            text("-"),
            text("-"),
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
            r.definition.as_deref().map(text).unwrap_or_else(null_text),
        ]);
    }
    schema.register_table("pg_views".into(), t.build()?)?;

    let mut t = TableBuilder::new(&[
        ("objoid", OID),
        ("classoid", OID),
        ("objsubid", INT4),
        ("description", TEXT),
    ]);
    for r in relations {
        if let Some(description) = &r.description {
            t.row(vec![
                oid(r.oid),
                oid(PG_CLASS_OID),
                int4(0),
                text(description),
            ]);
        }
        for (i, column) in r.columns.iter().enumerate() {
            if let Some(description) = &column.description {
                t.row(vec![
                    oid(r.oid),
                    oid(PG_CLASS_OID),
                    int4(i as i32 + 1),
                    text(description),
                ]);
            }
        }
    }
    schema.register_table("pg_description".into(), t.build()?)?;

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
