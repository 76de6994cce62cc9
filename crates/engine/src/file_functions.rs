//! DuckDB's file-reading table functions in model SQL — `read_parquet('data/*.parquet')`,
//! `read_csv` / `read_csv_auto`, `read_json` / `read_json_auto` / `read_ndjson` — so SQL written
//! for dbt-duckdb runs unchanged.
//!
//! DataFusion's table functions are planned synchronously, and reading files needs their schema
//! first (an async look at the files), so the calls are rewritten before planning instead: each
//! call becomes a reference to a relation in the hidden schema [`FILES_SCHEMA`], registered over
//! the same files (see [`crate::warehouse::Warehouse::register_files`]). These read the machine's
//! files: they belong to models and the local CLI. The SQL endpoint refuses them (see
//! [`calls`]).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArgOperator, Ident, ObjectName,
    ObjectNamePart, Statement, TableFactor, Value, Visit, VisitMut, Visitor, VisitorMut,
};

/// Where the relations standing for file reads are registered.
pub const FILES_SCHEMA: &str = "_orderlake_files";

/// The functions, with the format each reads.
const FUNCTIONS: &[(&str, &str)] = &[
    ("read_parquet", "parquet"),
    ("parquet_scan", "parquet"),
    ("read_csv", "csv"),
    ("read_csv_auto", "csv"),
    ("read_json", "json"),
    ("read_json_auto", "json"),
    ("read_ndjson", "json"),
    ("read_ndjson_auto", "json"),
];

/// Options accepted and ignored: what they ask for is what happens anyway (a header row, types
/// inferred, columns matched by name across files).
const IGNORED_OPTIONS: &[&str] = &[
    "header",
    "auto_detect",
    "union_by_name",
    "hive_partitioning",
    "filename",
];

/// One call found in a statement: the files to read and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRead {
    pub function: String,
    pub location: String,
    pub format: &'static str,
    /// The relation in [`FILES_SCHEMA`] the call was replaced by.
    pub table: String,
}

/// Whether `sql` may call one of the functions: a cheap test before parsing.
pub fn mentioned(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    FUNCTIONS.iter().any(|(name, _)| lower.contains(name))
}

/// The file-reading functions `statement` calls, by name (for refusing them where files must
/// not be read).
pub fn calls(statement: &Statement) -> Vec<String> {
    struct Finder(Vec<String>);
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table {
                name,
                args: Some(_),
                ..
            } = factor
                && let Some((function, _)) = function_of(name)
            {
                self.0.push(function.to_string());
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder(Vec::new());
    let _ = statement.visit(&mut finder);
    finder.0
}

/// Replaces every call in `statement` by a reference to `FILES_SCHEMA.<table>`, returning the
/// reads to register. Relative paths are taken from `base`. A call whose arguments are not one
/// path (or glob) and the options above is an error that says what was expected.
pub fn rewrite(statement: &mut Statement, base: &std::path::Path) -> Result<Vec<FileRead>, String> {
    struct Rewriter<'a> {
        base: &'a std::path::Path,
        reads: Vec<FileRead>,
    }
    impl VisitorMut for Rewriter<'_> {
        type Break = String;
        fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<String> {
            let TableFactor::Table {
                name,
                args: args @ Some(_),
                ..
            } = factor
            else {
                return ControlFlow::Continue(());
            };
            let Some((function, format)) = function_of(name) else {
                return ControlFlow::Continue(());
            };
            let given = args.as_ref().map(|a| a.args.as_slice()).unwrap_or_default();
            let path = match location(function, given) {
                Ok(path) => path,
                Err(e) => return ControlFlow::Break(e),
            };
            let location = if std::path::Path::new(&path).is_absolute() {
                path
            } else {
                self.base.join(&path).to_string_lossy().into_owned()
            };
            let table = format!("{format}_{:016x}", fingerprint(&location));
            *name = ObjectName(vec![
                ObjectNamePart::Identifier(Ident::with_quote('"', FILES_SCHEMA)),
                ObjectNamePart::Identifier(Ident::with_quote('"', table.clone())),
            ]);
            *args = None;
            self.reads.push(FileRead {
                function: function.to_string(),
                location,
                format,
                table,
            });
            ControlFlow::Continue(())
        }
    }
    let mut rewriter = Rewriter {
        base,
        reads: Vec::new(),
    };
    match statement.visit(&mut rewriter) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(rewriter.reads),
    }
}

fn function_of(name: &ObjectName) -> Option<(&'static str, &'static str)> {
    let [ObjectNamePart::Identifier(ident)] = name.0.as_slice() else {
        return None;
    };
    FUNCTIONS
        .iter()
        .find(|(f, _)| ident.value.eq_ignore_ascii_case(f))
        .copied()
}

/// The one path of a call, checking its options.
fn location(function: &str, args: &[FunctionArg]) -> Result<String, String> {
    let ignored = |name: &Ident| {
        IGNORED_OPTIONS
            .iter()
            .any(|o| name.value.eq_ignore_ascii_case(o))
    };
    let mut path = None;
    for arg in args {
        match arg {
            // `header = true` parses as a comparison in some dialects.
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                ..
            })) if matches!(left.as_ref(), Expr::Identifier(name) if ignored(name)) => {}
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))) if path.is_none() => {
                match &v.value {
                    Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                        path = Some(s.clone())
                    }
                    other => {
                        return Err(format!(
                            "{function}: the first argument must be a path or glob in quotes, not {other}"
                        ));
                    }
                }
            }
            FunctionArg::Named {
                name,
                operator: FunctionArgOperator::Equals | FunctionArgOperator::Assignment,
                ..
            }
            | FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                ..
            } if ignored(name) => {}
            other => {
                return Err(format!(
                    "{function}: `{other}` is not supported here; give one path or glob in quotes \
                     (options accepted: {})",
                    IGNORED_OPTIONS.join(", ")
                ));
            }
        }
    }
    path.ok_or_else(|| format!("{function}: give the path or glob of the files to read"))
}

/// FNV-1a: a stable name for the same files read again.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&GenericDialect {}, sql)
            .expect("sql")
            .remove(0)
    }

    #[test]
    fn calls_become_relations_over_the_same_files() {
        let mut statement = parse(
            "select * from read_parquet('data/*.parquet') p join read_csv_auto('/abs/x.csv', header = true) c on p.id = c.id",
        );
        let reads = rewrite(&mut statement, std::path::Path::new("/project")).expect("rewrite");
        assert_eq!(
            reads
                .iter()
                .map(|r| (r.function.as_str(), r.location.as_str(), r.format))
                .collect::<Vec<_>>(),
            vec![
                ("read_parquet", "/project/data/*.parquet", "parquet"),
                ("read_csv_auto", "/abs/x.csv", "csv"),
            ]
        );
        let sql = statement.to_string();
        assert!(
            sql.contains(&format!("\"{FILES_SCHEMA}\".\"{}\" p", reads[0].table)),
            "{sql}"
        );
        assert!(!sql.contains("read_"), "{sql}");
        assert_eq!(
            calls(&parse("select * from read_json('a.json')")),
            ["read_json"]
        );
        assert!(calls(&parse("select * from t")).is_empty());
    }

    #[test]
    fn bad_arguments_say_what_is_expected() {
        let mut statement = parse("select * from read_csv('a.csv', delim = '|')");
        let e = rewrite(&mut statement, std::path::Path::new("/p")).expect_err("delim");
        assert!(e.contains("read_csv") && e.contains("delim"), "{e}");
        let mut statement = parse("select * from read_parquet()");
        let e = rewrite(&mut statement, std::path::Path::new("/p")).expect_err("no path");
        assert!(e.contains("give the path"), "{e}");
    }
}
