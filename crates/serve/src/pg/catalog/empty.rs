//! The catalogs that are always empty here (indexes, constraints, defaults, ranges, enums, …),
//! with the columns clients join on.

use super::table::*;
use super::*;

/// Catalogs that are empty here (no indexes, constraints, defaults, ranges, enums, ...):
/// present with their columns so joins on them plan and return nothing. The SQL rewriter
/// also answers subqueries over them without planning them ([`is_empty_catalog`]).
pub(super) static EMPTY_CATALOGS: LazyLock<Vec<(&'static str, Columns)>> = LazyLock::new(|| {
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
            "pg_indexes",
            &[
                ("schemaname", TEXT),
                ("tablename", TEXT),
                ("indexname", TEXT),
                ("tablespace", TEXT),
                ("indexdef", TEXT),
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
