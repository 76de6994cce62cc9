//! The PostgreSQL system functions that clients call while they look around: `version()`,
//! `current_schema()`, `pg_get_userbyid`, `format_type`, `pg_table_is_visible`, privileges,
//! descriptions, sizes, and the `::regclass` lookup. They answer from the snapshot's catalog.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Int32Array, Int64Array, StringArray, UInt32Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::catalog::{CatalogRelation, OWNER_NAME, SYSTEM_CLASS_OIDS, format_type};
use super::session::SETTINGS;

type Body = dyn Fn(&[ArrayRef], usize) -> Result<ArrayRef> + Send + Sync;

/// A system function: its name, what it returns, and how.
struct PgFunction {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    body: Arc<Body>,
}

impl fmt::Debug for PgFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgFunction({})", self.name)
    }
}
impl PartialEq for PgFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for PgFunction {}
impl Hash for PgFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for PgFunction {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out = (self.body)(
            &arrays,
            if arrays.is_empty() {
                rows
            } else {
                arrays[0].len()
            },
        )?;
        if all_scalar && !arrays.is_empty() {
            return Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&out, 0)?,
            ));
        }
        if arrays.is_empty() && out.len() == 1 && rows != 1 {
            return Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&out, 0)?,
            ));
        }
        Ok(ColumnarValue::Array(out))
    }
}

fn pg_udf(
    name: &'static str,
    nullary: bool,
    returns: DataType,
    body: impl Fn(&[ArrayRef], usize) -> Result<ArrayRef> + Send + Sync + 'static,
) -> ScalarUDF {
    let signature = if nullary {
        Signature::nullary(Volatility::Stable)
    } else {
        Signature::variadic_any(Volatility::Stable)
    };
    ScalarUDF::new_from_impl(PgFunction {
        name,
        signature,
        returns,
        body: Arc::new(body),
    })
}

fn register_fn(
    ctx: &SessionContext,
    name: &'static str,
    nullary: bool,
    returns: DataType,
    body: impl Fn(&[ArrayRef], usize) -> Result<ArrayRef> + Send + Sync + 'static,
) {
    ctx.register_udf(pg_udf(name, nullary, returns, body));
}

/// `current_schema()` answering `schema`: a connection's own, once it set a search path.
pub fn current_schema(schema: String) -> ScalarUDF {
    pg_udf(
        "current_schema",
        true,
        DataType::Utf8,
        constant_text(schema),
    )
}

/// One value for every row: a nullary function is called with the batch's row count but
/// answers once.
fn constant_text(value: String) -> impl Fn(&[ArrayRef], usize) -> Result<ArrayRef> {
    move |_args, _rows| Ok(Arc::new(StringArray::from(vec![value.clone()])) as ArrayRef)
}

fn rows_of(args: &[ArrayRef], rows: usize) -> usize {
    args.first().map(|a| a.len()).unwrap_or(rows)
}

fn as_oids(array: &ArrayRef) -> Result<UInt32Array> {
    let casted = cast(array, &DataType::UInt32)?;
    Ok(casted
        .as_any()
        .downcast_ref::<UInt32Array>()
        .cloned()
        .unwrap_or_else(|| UInt32Array::from(vec![None; array.len()])))
}

/// The first argument as OIDs (all null when there is none).
fn first_oids(args: &[ArrayRef], rows: usize) -> Result<UInt32Array> {
    match args.first() {
        Some(a) => as_oids(a),
        None => Ok(UInt32Array::from(vec![None; rows])),
    }
}

fn as_texts(array: &ArrayRef) -> Result<StringArray> {
    let casted = cast(array, &DataType::Utf8)?;
    Ok(casted
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .unwrap_or_else(|| StringArray::from(vec![None::<String>; array.len()])))
}

fn as_ints(array: &ArrayRef) -> Result<Int32Array> {
    let casted = cast(array, &DataType::Int32)?;
    Ok(casted
        .as_any()
        .downcast_ref::<Int32Array>()
        .cloned()
        .unwrap_or_else(|| Int32Array::from(vec![None; array.len()])))
}

/// Quotes an identifier the way `quote_ident` does: only when it needs it.
pub fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Resolves `'schema.name'`, `'name'` (first match in any schema) or `'123'` to an OID.
fn regclass(relations: &[CatalogRelation], text: &str) -> Option<u32> {
    let text = text.trim();
    if let Ok(oid) = text.parse::<u32>() {
        return Some(oid);
    }
    let parts: Vec<String> = text
        .split('.')
        .map(|p| {
            if p.starts_with('"') && p.ends_with('"') && p.len() >= 2 {
                p[1..p.len() - 1].replace("\"\"", "\"")
            } else {
                p.to_ascii_lowercase()
            }
        })
        .collect();
    let (schema, name) = match parts.as_slice() {
        [name] => (None, name.as_str()),
        [schema, name] => (Some(schema.as_str()), name.as_str()),
        [_, schema, name] => (Some(schema.as_str()), name.as_str()),
        _ => return None,
    };
    if schema.is_none_or(|s| s == super::catalog::PG_CATALOG)
        && let Some((_, oid)) = SYSTEM_CLASS_OIDS.iter().find(|(n, _)| *n == name)
    {
        return Some(*oid);
    }
    relations
        .iter()
        .find(|r| r.name == name && schema.is_none_or(|s| r.schema == s))
        .map(|r| r.oid)
}

/// Registers every system function on `ctx`, answering from `relations`.
pub fn register(
    ctx: &SessionContext,
    relations: &[CatalogRelation],
    namespaces: &BTreeMap<String, u32>,
    database: &str,
) {
    let default_schema = ctx
        .state()
        .config()
        .options()
        .catalog
        .default_schema
        .clone();
    register_fn(
        ctx,
        "version",
        true,
        DataType::Utf8,
        constant_text(super::session::version_string()),
    );
    register_fn(
        ctx,
        "current_schema",
        true,
        DataType::Utf8,
        constant_text(default_schema.clone()),
    );
    register_fn(
        ctx,
        "current_database",
        true,
        DataType::Utf8,
        constant_text(database.to_string()),
    );
    for name in ["current_user", "session_user", "current_role"] {
        register_fn(
            ctx,
            name,
            true,
            DataType::Utf8,
            constant_text(OWNER_NAME.to_string()),
        );
    }
    let schemas: Vec<String> = namespaces.keys().cloned().collect();
    register_fn(
        ctx,
        "current_schemas",
        false,
        DataType::List(Arc::new(datafusion::arrow::datatypes::Field::new(
            "item",
            DataType::Utf8,
            true,
        ))),
        move |args, rows| {
            let n = rows_of(args, rows);
            let mut builder = datafusion::arrow::array::ListBuilder::new(
                datafusion::arrow::array::StringBuilder::new(),
            );
            for _ in 0..n {
                for s in &schemas {
                    builder.values().append_value(s);
                }
                builder.append(true);
            }
            Ok(Arc::new(builder.finish()) as ArrayRef)
        },
    );
    register_fn(
        ctx,
        "pg_get_userbyid",
        false,
        DataType::Utf8,
        |args, rows| {
            let n = rows_of(args, rows);
            Ok(Arc::new(StringArray::from(vec![OWNER_NAME; n])) as ArrayRef)
        },
    );
    for name in [
        "pg_table_is_visible",
        "pg_type_is_visible",
        "pg_function_is_visible",
        "has_table_privilege",
        "has_schema_privilege",
        "has_database_privilege",
        "has_column_privilege",
        "has_any_column_privilege",
        "pg_has_role",
    ] {
        register_fn(ctx, name, false, DataType::Boolean, |args, rows| {
            let n = rows_of(args, rows);
            Ok(Arc::new(BooleanArray::from(vec![true; n])) as ArrayRef)
        });
    }
    for name in ["pg_is_in_recovery", "pg_relation_is_publishable"] {
        register_fn(
            ctx,
            name,
            name == "pg_is_in_recovery",
            DataType::Boolean,
            |args, rows| {
                let n = rows_of(args, rows);
                Ok(Arc::new(BooleanArray::from(vec![false; n])) as ArrayRef)
            },
        );
    }
    for name in [
        "pg_get_expr",
        "shobj_description",
        "pg_get_indexdef",
        "pg_get_constraintdef",
        "pg_get_partkeydef",
        "pg_get_statisticsobjdef_columns",
        "pg_get_triggerdef",
        "pg_get_ruledef",
    ] {
        register_fn(ctx, name, false, DataType::Utf8, |args, rows| {
            let n = rows_of(args, rows);
            Ok(Arc::new(StringArray::from(vec![None::<String>; n])) as ArrayRef)
        });
    }
    register_fn(ctx, "format_type", false, DataType::Utf8, |args, rows| {
        let n = rows_of(args, rows);
        let oids = match args.first() {
            Some(a) => as_oids(a)?,
            None => UInt32Array::from(vec![None; n]),
        };
        let mods = match args.get(1) {
            Some(a) => as_ints(a)?,
            None => Int32Array::from(vec![Some(-1); n]),
        };
        let out: StringArray = (0..n)
            .map(|i| {
                if oids.is_null(i) {
                    return None;
                }
                let typmod = if mods.is_null(i) { -1 } else { mods.value(i) };
                format_type(oids.value(i), typmod).or_else(|| Some("???".to_string()))
            })
            .collect();
        Ok(Arc::new(out) as ArrayRef)
    });
    register_fn(
        ctx,
        "pg_encoding_to_char",
        false,
        DataType::Utf8,
        |args, rows| {
            let n = rows_of(args, rows);
            Ok(Arc::new(StringArray::from(vec!["UTF8"; n])) as ArrayRef)
        },
    );
    register_fn(ctx, "quote_ident", false, DataType::Utf8, |args, rows| {
        let n = rows_of(args, rows);
        let texts = match args.first() {
            Some(a) => as_texts(a)?,
            None => StringArray::from(vec![None::<String>; n]),
        };
        let out: StringArray = texts.iter().map(|t| t.map(quote_ident)).collect();
        Ok(Arc::new(out) as ArrayRef)
    });
    register_fn(
        ctx,
        "current_setting",
        false,
        DataType::Utf8,
        |args, rows| {
            let n = rows_of(args, rows);
            let names = match args.first() {
                Some(a) => as_texts(a)?,
                None => StringArray::from(vec![None::<String>; n]),
            };
            let out: StringArray = names
                .iter()
                .map(|name| {
                    let name = name?.to_ascii_lowercase();
                    SETTINGS
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&name))
                        .map(|(_, v)| v.to_string())
                })
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        },
    );
    register_fn(ctx, "set_config", false, DataType::Utf8, |args, rows| {
        let n = rows_of(args, rows);
        match args.get(1) {
            Some(a) => Ok(Arc::new(as_texts(a)?) as ArrayRef),
            None => Ok(Arc::new(StringArray::from(vec![None::<String>; n])) as ArrayRef),
        }
    });
    register_fn(
        ctx,
        "pg_backend_pid",
        true,
        DataType::Int32,
        |_args, _rows| Ok(Arc::new(Int32Array::from(vec![std::process::id() as i32])) as ArrayRef),
    );
    register_fn(
        ctx,
        "txid_current",
        true,
        DataType::Int64,
        |_args, _rows| Ok(Arc::new(Int64Array::from(vec![1_i64])) as ArrayRef),
    );
    for name in [
        "pg_relation_size",
        "pg_total_relation_size",
        "pg_table_size",
        "pg_indexes_size",
    ] {
        register_fn(ctx, name, false, DataType::Int64, |args, rows| {
            let n = rows_of(args, rows);
            Ok(Arc::new(Int64Array::from(vec![0_i64; n])) as ArrayRef)
        });
    }
    register_fn(
        ctx,
        "pg_size_pretty",
        false,
        DataType::Utf8,
        |args, rows| {
            let n = rows_of(args, rows);
            let sizes = match args.first() {
                Some(a) => cast(a, &DataType::Int64)?,
                None => Arc::new(Int64Array::from(vec![None; n])) as ArrayRef,
            };
            let sizes = sizes
                .as_any()
                .downcast_ref::<Int64Array>()
                .cloned()
                .unwrap_or_else(|| Int64Array::from(vec![None; n]));
            let out: StringArray = sizes
                .iter()
                .map(|s| s.map(|b| format!("{b} bytes")))
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        },
    );
    let relations: Arc<Vec<CatalogRelation>> = Arc::new(relations.to_vec());
    for name in ["to_regclass", "pg_regclass"] {
        let relations = relations.clone();
        register_fn(ctx, name, false, DataType::UInt32, move |args, rows| {
            let n = rows_of(args, rows);
            let Some(arg) = args.first() else {
                return Ok(Arc::new(UInt32Array::from(vec![None; n])) as ArrayRef);
            };
            if arg.data_type().is_integer() {
                return Ok(Arc::new(as_oids(arg)?) as ArrayRef);
            }
            let texts = as_texts(arg)?;
            let out: UInt32Array = texts
                .iter()
                .map(|t| t.and_then(|t| regclass(&relations, t)))
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        });
    }
    let type_oids: Arc<BTreeMap<String, u32>> = Arc::new(
        super::catalog::type_rows()
            .into_iter()
            .map(|(oid, name, ..)| (name, oid))
            .chain(
                [
                    ("integer", 23),
                    ("bigint", 20),
                    ("smallint", 21),
                    ("boolean", 16),
                    ("real", 700),
                    ("double precision", 701),
                    ("character varying", 1043),
                    ("timestamp without time zone", 1114),
                    ("timestamp with time zone", 1184),
                ]
                .map(|(n, o)| (n.to_string(), o)),
            )
            .collect(),
    );
    register_fn(
        ctx,
        "to_regtype",
        false,
        DataType::UInt32,
        move |args, rows| {
            let n = rows_of(args, rows);
            let names = match args.first() {
                Some(a) => as_texts(a)?,
                None => StringArray::from(vec![None::<String>; n]),
            };
            let out: UInt32Array = names
                .iter()
                .map(|t| {
                    let t = t?.trim().to_ascii_lowercase();
                    let t = t
                        .strip_prefix("pg_catalog.")
                        .unwrap_or(&t)
                        .trim_matches('"');
                    let t = match t.strip_suffix("[]") {
                        Some(element) => format!("_{element}"),
                        None => t.to_string(),
                    };
                    type_oids.get(&t).copied()
                })
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        },
    );
    register_descriptions(ctx, &relations);
    let names: Arc<BTreeMap<u32, String>> = Arc::new(
        relations
            .iter()
            .map(|r| {
                (
                    r.oid,
                    format!("{}.{}", quote_ident(&r.schema), quote_ident(&r.name)),
                )
            })
            .collect(),
    );
    register_fn(
        ctx,
        "pg_regclass_name",
        false,
        DataType::Utf8,
        move |args, rows| {
            let n = rows_of(args, rows);
            let oids = first_oids(args, n)?;
            let out: StringArray = oids
                .iter()
                .map(|o| o.map(|o| names.get(&o).cloned().unwrap_or_else(|| o.to_string())))
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        },
    );
}

/// `obj_description(oid[, catalog])`, `col_description(oid, attnum)` and `pg_get_viewdef`:
/// the YAML descriptions of models, sources and their columns, and views' SQL.
fn register_descriptions(ctx: &SessionContext, relations: &[CatalogRelation]) {
    let tables: Arc<BTreeMap<u32, String>> = Arc::new(
        relations
            .iter()
            .filter_map(|r| Some((r.oid, r.description.clone()?)))
            .collect(),
    );
    register_fn(
        ctx,
        "obj_description",
        false,
        DataType::Utf8,
        move |args, rows| {
            let n = rows_of(args, rows);
            let oids = first_oids(args, n)?;
            // Only relations have descriptions: another catalog's objects have none.
            let catalogs = match args.get(1) {
                Some(a) => as_texts(a)?,
                None => StringArray::from(vec![Some("pg_class"); n]),
            };
            let out: StringArray = oids
                .iter()
                .zip(catalogs.iter())
                .map(|(oid, catalog)| match catalog {
                    Some("pg_class") => tables.get(&oid?).cloned(),
                    _ => None,
                })
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        },
    );
    let columns: Arc<BTreeMap<(u32, i32), String>> = Arc::new(
        relations
            .iter()
            .flat_map(|r| {
                r.columns
                    .iter()
                    .enumerate()
                    .filter_map(move |(i, c)| Some(((r.oid, i as i32 + 1), c.description.clone()?)))
            })
            .collect(),
    );
    register_fn(
        ctx,
        "col_description",
        false,
        DataType::Utf8,
        move |args, rows| {
            let n = rows_of(args, rows);
            let (Some(oids), Some(attnums)) = (args.first(), args.get(1)) else {
                return Ok(Arc::new(StringArray::from(vec![None::<String>; n])) as ArrayRef);
            };
            let (oids, attnums) = (as_oids(oids)?, as_ints(attnums)?);
            let out: StringArray = oids
                .iter()
                .zip(attnums.iter())
                .map(|(oid, attnum)| columns.get(&(oid?, attnum?)).cloned())
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        },
    );
    let views: Arc<BTreeMap<u32, String>> = Arc::new(
        relations
            .iter()
            .filter_map(|r| Some((r.oid, r.definition.clone()?)))
            .collect(),
    );
    register_fn(
        ctx,
        "pg_get_viewdef",
        false,
        DataType::Utf8,
        move |args, rows| {
            let n = rows_of(args, rows);
            let oids = first_oids(args, n)?;
            let out: StringArray = oids.iter().map(|o| views.get(&o?).cloned()).collect();
            Ok(Arc::new(out) as ArrayRef)
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_ident_quotes_only_what_needs_it() {
        assert_eq!(quote_ident("orders"), "orders");
        assert_eq!(quote_ident("Orders"), "\"Orders\"");
        assert_eq!(quote_ident("a b"), "\"a b\"");
        assert_eq!(quote_ident("1x"), "\"1x\"");
    }

    #[test]
    fn regclass_resolves_qualified_bare_and_numeric_names() {
        let relations = vec![CatalogRelation {
            oid: 17_400,
            namespace_oid: 16_384,
            schema: "gold".into(),
            name: "customer_metrics".into(),
            is_view: false,
            columns: vec![],
            description: None,
            definition: None,
        }];
        assert_eq!(regclass(&relations, "gold.customer_metrics"), Some(17_400));
        assert_eq!(
            regclass(&relations, "\"gold\".\"customer_metrics\""),
            Some(17_400)
        );
        assert_eq!(regclass(&relations, "customer_metrics"), Some(17_400));
        assert_eq!(regclass(&relations, "silver.customer_metrics"), None);
        assert_eq!(regclass(&relations, "17400"), Some(17_400));
        assert_eq!(regclass(&relations, "pg_catalog.pg_class"), Some(1259));
    }
}
