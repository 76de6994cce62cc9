//! Rewrites the PostgreSQL dialect that clients send into SQL DataFusion plans: `OPERATOR(pg_catalog.~)`,
//! `COLLATE pg_catalog.default`, `::regclass`, `::oid`, `::pg_catalog.text`, schema-qualified
//! system functions, and catalog tables named without their schema.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType as SqlType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, Ident, ObjectName, ObjectNamePart, Statement, Value,
    VisitMut, VisitorMut,
};

use super::catalog::{PG_CATALOG, REGPROC_COLUMNS, is_catalog_table, is_empty_catalog};

/// Rewrites `statement` in place.
pub fn rewrite(statement: &mut Statement) {
    let _ = statement.visit(&mut Rewriter);
}

struct Rewriter;

fn last_part(name: &ObjectName) -> Option<String> {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => Some(ident.value.to_ascii_lowercase()),
        _ => None,
    }
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

fn string(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.to_string()).into())
}

fn cast_to(expr: Expr, data_type: SqlType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type,
        array: false,
        format: None,
    }
}

/// What a cast to a PostgreSQL-only type becomes, if it is one.
fn rewrite_cast(expr: &Expr, data_type: &SqlType) -> Option<Expr> {
    let name = match data_type {
        SqlType::Regclass => "regclass".to_string(),
        SqlType::Custom(name, _) => last_part(name)?,
        _ => return None,
    };
    let inner = expr.clone();
    Some(match name.as_str() {
        "regclass" => call("pg_regclass", vec![inner]),
        // `pg_type`'s regproc columns hold function names: `'pg_catalog.array_in'::regproc`
        // is the name, and a regproc column stays as it is.
        "regproc" | "regprocedure" if string_literal(&inner).is_some() => {
            let name = string_literal(&inner).unwrap_or_default();
            let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
            string(name)
        }
        "regproc" | "regprocedure" if is_regproc_column(&inner) => inner,
        // A name becomes its OID; an OID becomes its name (as `::regtype::text` wants).
        "regtype" if matches!(&inner, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_))) => {
            call("to_regtype", vec![inner])
        }
        "regtype" => call("format_type", vec![inner]),
        "oid" | "regproc" | "regprocedure" | "regnamespace" | "regrole" | "xid" | "cid" => {
            call("arrow_cast", vec![inner, string("UInt32")])
        }
        "text" | "name" | "char" | "bpchar" | "varchar" | "int2vector" | "oidvector"
        | "pg_node_tree" | "aclitem" => cast_to(inner, SqlType::Text),
        "int2" => cast_to(inner, SqlType::SmallInt(None)),
        "int4" => cast_to(inner, SqlType::Integer(None)),
        "int8" => cast_to(inner, SqlType::BigInt(None)),
        "float8" => cast_to(inner, SqlType::DoublePrecision),
        "bool" => cast_to(inner, SqlType::Boolean),
        _ => return None,
    })
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `expr` names one of `pg_type`'s regproc columns (`typreceive`, `t.typinput`).
fn is_regproc_column(expr: &Expr) -> bool {
    let name = match expr {
        Expr::Identifier(ident) => &ident.value,
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(last) => &last.value,
            None => return false,
        },
        _ => return false,
    };
    REGPROC_COLUMNS.contains(&name.to_ascii_lowercase().as_str())
}

fn is_zero(expr: &Expr) -> bool {
    matches!(expr, Expr::Value(v) if matches!(&v.value, Value::Number(n, _) if n == "0"))
}

fn plain_operator(op: &[String]) -> Option<BinaryOperator> {
    Some(match op.last()?.as_str() {
        "~" => BinaryOperator::PGRegexMatch,
        "~*" => BinaryOperator::PGRegexIMatch,
        "!~" => BinaryOperator::PGRegexNotMatch,
        "!~*" => BinaryOperator::PGRegexNotIMatch,
        "~~" => BinaryOperator::PGLikeMatch,
        "~~*" => BinaryOperator::PGILikeMatch,
        "=" => BinaryOperator::Eq,
        "<>" | "!=" => BinaryOperator::NotEq,
        "<" => BinaryOperator::Lt,
        "<=" => BinaryOperator::LtEq,
        ">" => BinaryOperator::Gt,
        ">=" => BinaryOperator::GtEq,
        "||" => BinaryOperator::StringConcat,
        "+" => BinaryOperator::Plus,
        "-" => BinaryOperator::Minus,
        _ => return None,
    })
}

/// Whether a subquery inner-joins an always-empty catalog, so it has no rows: DataFusion
/// cannot plan some of the correlated forms clients send, and the answer is known anyway.
fn reads_empty_catalog(query: &datafusion::sql::sqlparser::ast::Query) -> bool {
    use datafusion::sql::sqlparser::ast::SetExpr;
    match query.body.as_ref() {
        // Inner selects are visited first: one may already be emptied.
        SetExpr::Select(select) => select_reads_empty_catalog(select) || is_emptied(select),
        _ => false,
    }
}

fn is_emptied(select: &datafusion::sql::sqlparser::ast::Select) -> bool {
    select.from.is_empty()
        && matches!(&select.selection, Some(Expr::Value(v)) if v.value == Value::Boolean(false))
}

fn select_reads_empty_catalog(select: &datafusion::sql::sqlparser::ast::Select) -> bool {
    use datafusion::sql::sqlparser::ast::{JoinOperator, TableFactor};
    let is_empty = |factor: &TableFactor| match factor {
        TableFactor::Table { name, .. } => last_part(name).is_some_and(|n| is_empty_catalog(&n)),
        _ => false,
    };
    select.from.iter().any(|t| {
        is_empty(&t.relation)
            || t.joins.iter().any(|j| {
                matches!(
                    j.join_operator,
                    JoinOperator::Inner(_) | JoinOperator::Join(_)
                ) && is_empty(&j.relation)
            })
    })
}

/// A SELECT over an always-empty catalog has no rows: it becomes `SELECT NULL AS <name>, ...
/// WHERE false`, keeping its column names, so whatever else it computes need not plan.
fn empty_select(select: &mut datafusion::sql::sqlparser::ast::Select) {
    use datafusion::sql::sqlparser::ast::{GroupByExpr, SelectItem};
    let mut items = Vec::with_capacity(select.projection.len());
    for (i, item) in select.projection.iter().enumerate() {
        let alias = match item {
            SelectItem::ExprWithAlias { alias, .. } => alias.clone(),
            SelectItem::UnnamedExpr(Expr::Identifier(ident)) => ident.clone(),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => match parts.last() {
                Some(last) => last.clone(),
                None => return,
            },
            SelectItem::UnnamedExpr(_) => Ident::new(format!("?column{}?", i + 1)),
            // `*` needs the tables' columns: leave such a select as it is.
            _ => return,
        };
        items.push(SelectItem::ExprWithAlias {
            expr: Expr::Value(Value::Null.into()),
            alias,
        });
    }
    select.projection = items;
    select.from.clear();
    select.selection = Some(Expr::Value(Value::Boolean(false).into()));
    select.group_by = GroupByExpr::Expressions(vec![], vec![]);
    select.having = None;
}

const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
];

/// PostgreSQL lets a scalar subquery return one row without aggregating (catalog queries do
/// it everywhere: `(SELECT pg_get_expr(d.adbin, ...) FROM pg_attrdef d WHERE ...)`);
/// DataFusion requires an aggregate to plan it when correlated. `max()` of the one row is it.
fn aggregate_scalar_subquery(query: &mut datafusion::sql::sqlparser::ast::Query) {
    use datafusion::sql::sqlparser::ast::{GroupByExpr, SelectItem, SetExpr};
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    if grouped || select.projection.len() != 1 || select.distinct.is_some() {
        return;
    }
    let item = &mut select.projection[0];
    let (expr, alias) = match item {
        SelectItem::UnnamedExpr(e) => (e.clone(), None),
        SelectItem::ExprWithAlias { expr, alias } => (expr.clone(), Some(alias.clone())),
        _ => return,
    };
    if let Expr::Function(f) = &expr
        && last_part(&f.name).is_some_and(|n| AGGREGATES.contains(&n.as_str()))
    {
        return;
    }
    let wrapped = call("max", vec![expr]);
    *item = match alias {
        Some(alias) => SelectItem::ExprWithAlias {
            expr: wrapped,
            alias,
        },
        None => SelectItem::UnnamedExpr(wrapped),
    };
    query.limit_clause = None;
}

/// The name PostgreSQL gives an unnamed result column, where DataFusion's differs: a
/// function call is named after the function (`count`, not `count(*)`), a cast of a column
/// after the column, a CASE `case`. BI tools show these names and clients key rows by them.
fn postgres_name(expr: &Expr) -> Option<String> {
    use datafusion::sql::sqlparser::ast::{SelectItem, SetExpr};
    match expr {
        Expr::Function(f) => last_part(&f.name),
        Expr::Cast {
            expr, data_type, ..
        } => match expr.as_ref() {
            Expr::Identifier(ident) => Some(ident.value.clone()),
            Expr::CompoundIdentifier(parts) => parts.last().map(|p| p.value.clone()),
            Expr::Value(_) => Some(type_name(data_type)),
            inner => postgres_name(inner),
        },
        Expr::Case { .. } => Some("case".to_string()),
        Expr::Nested(inner) => postgres_name(inner),
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => None,
        // A scalar subquery is named after its one column.
        Expr::Subquery(query) => match query.body.as_ref() {
            SetExpr::Select(select) => match select.projection.first() {
                Some(SelectItem::ExprWithAlias { alias, .. }) => Some(alias.value.clone()),
                Some(SelectItem::UnnamedExpr(Expr::Identifier(ident))) => Some(ident.value.clone()),
                Some(SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts))) => {
                    parts.last().map(|p| p.value.clone())
                }
                Some(SelectItem::UnnamedExpr(inner)) => postgres_name(inner),
                _ => None,
            },
            _ => None,
        },
        _ => Some("?column?".to_string()),
    }
}

/// PostgreSQL's name of a type, as it names a cast literal (`'1'::int` is `int4`).
fn type_name(data_type: &SqlType) -> String {
    match data_type {
        SqlType::Custom(name, _) => last_part(name).unwrap_or_else(|| "?column?".into()),
        SqlType::SmallInt(_) | SqlType::Int2(_) => "int2".into(),
        SqlType::Int(_) | SqlType::Integer(_) | SqlType::Int4(_) => "int4".into(),
        SqlType::BigInt(_) | SqlType::Int8(_) => "int8".into(),
        SqlType::Real | SqlType::Float4 => "float4".into(),
        SqlType::Double(_) | SqlType::DoublePrecision | SqlType::Float8 => "float8".into(),
        SqlType::Numeric(_) | SqlType::Decimal(_) => "numeric".into(),
        SqlType::Boolean | SqlType::Bool => "bool".into(),
        SqlType::Text => "text".into(),
        SqlType::Varchar(_) | SqlType::CharacterVarying(_) => "varchar".into(),
        SqlType::Date => "date".into(),
        SqlType::Timestamp(..) => "timestamp".into(),
        SqlType::Regclass => "regclass".into(),
        _ => "?column?".into(),
    }
}

fn name_as_postgres_does(select: &mut datafusion::sql::sqlparser::ast::Select) {
    use datafusion::sql::sqlparser::ast::SelectItem;
    // DataFusion refuses two columns of one name: a name already taken stays as it was.
    let mut taken: std::collections::HashSet<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_ascii_lowercase()),
            SelectItem::UnnamedExpr(Expr::Identifier(ident)) => {
                Some(ident.value.to_ascii_lowercase())
            }
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                parts.last().map(|p| p.value.to_ascii_lowercase())
            }
            _ => None,
        })
        .collect();
    for item in select.projection.iter_mut() {
        let SelectItem::UnnamedExpr(expr) = item else {
            continue;
        };
        let Some(name) = postgres_name(expr) else {
            continue;
        };
        if !taken.insert(name.to_ascii_lowercase()) {
            continue;
        }
        *item = SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias: Ident::with_quote('"', name),
        };
    }
}

impl VisitorMut for Rewriter {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<()> {
        if relation.0.len() == 1
            && let Some(name) = last_part(relation)
            && is_catalog_table(&name)
        {
            relation
                .0
                .insert(0, ObjectNamePart::Identifier(Ident::new(PG_CATALOG)));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(
        &mut self,
        query: &mut datafusion::sql::sqlparser::ast::Query,
    ) -> ControlFlow<()> {
        use datafusion::sql::sqlparser::ast::SetExpr;
        // An emptied select has no FROM left for its ORDER BY to name.
        if let SetExpr::Select(select) = query.body.as_ref()
            && is_emptied(select)
        {
            query.order_by = None;
        }
        ControlFlow::Continue(())
    }

    /// Named before the expressions are rewritten, so a name is the one PostgreSQL would give
    /// what the client wrote (`1::oid` is `oid`, whatever it becomes here).
    fn pre_visit_select(
        &mut self,
        select: &mut datafusion::sql::sqlparser::ast::Select,
    ) -> ControlFlow<()> {
        name_as_postgres_does(select);
        ControlFlow::Continue(())
    }

    /// PostgreSQL names every unnamed literal column `?column?`; DataFusion names them by
    /// their value and refuses two alike (`SELECT NULL, NULL`). Give repeated ones a suffix.
    fn post_visit_select(
        &mut self,
        select: &mut datafusion::sql::sqlparser::ast::Select,
    ) -> ControlFlow<()> {
        use datafusion::sql::sqlparser::ast::SelectItem;
        if select_reads_empty_catalog(select) {
            empty_select(select);
            return ControlFlow::Continue(());
        }
        let mut seen = std::collections::HashSet::new();
        for (i, item) in select.projection.iter_mut().enumerate() {
            if let SelectItem::UnnamedExpr(expr @ Expr::Value(_)) = item {
                let name = expr.to_string();
                if !seen.insert(name) {
                    *item = SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias: Ident::new(format!("?column{}?", i + 1)),
                    };
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let replacement = match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::PGCustomBinaryOperator(parts),
                right,
            } => plain_operator(parts).map(|op| Expr::BinaryOp {
                left: left.clone(),
                op,
                right: right.clone(),
            }),
            Expr::Collate { expr: inner, .. } => Some((**inner).clone()),
            // A regproc of 0 shows as '-': `typreceive != 0` asks whether it has one.
            Expr::BinaryOp { left, op, right }
                if matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq)
                    && ((is_regproc_column(left) && is_zero(right))
                        || (is_zero(left) && is_regproc_column(right))) =>
            {
                let (column, op) = if is_regproc_column(left) {
                    (left.clone(), op.clone())
                } else {
                    (right.clone(), op.clone())
                };
                Some(Expr::BinaryOp {
                    left: column,
                    op,
                    right: Box::new(string("-")),
                })
            }
            // `(expr).field`: pgJDBC reads `(information_schema._pg_expandarray(i.indkey)).n`.
            Expr::CompoundFieldAccess { root, access_chain } => {
                use datafusion::sql::sqlparser::ast::AccessExpr;
                let mut out = (**root).clone();
                let mut all_dots = true;
                for access in access_chain.iter() {
                    match access {
                        AccessExpr::Dot(Expr::Identifier(field)) => {
                            out = call("get_field", vec![out, string(&field.value)]);
                        }
                        _ => {
                            all_dots = false;
                            break;
                        }
                    }
                }
                all_dots.then_some(out)
            }
            // DataFusion's LIKE escapes only with a backslash; SQLAlchemy escapes with '/'.
            Expr::Like {
                pattern,
                escape_char,
                ..
            }
            | Expr::ILike {
                pattern,
                escape_char,
                ..
            } => {
                if let Some(escape) = escape_char
                    && let Value::SingleQuotedString(c) = &escape.value
                    && c != "\\"
                {
                    let c = c.clone();
                    let doubled = call(
                        "replace",
                        vec![(**pattern).clone(), string("\\"), string("\\\\")],
                    );
                    **pattern = call("replace", vec![doubled, string(&c), string("\\")]);
                    *escape_char = None;
                }
                None
            }
            Expr::Subquery(query) if reads_empty_catalog(query) => {
                Some(Expr::Value(Value::Null.into()))
            }
            Expr::Exists { subquery, negated } if reads_empty_catalog(subquery) => {
                Some(Expr::Value(Value::Boolean(*negated).into()))
            }
            Expr::InSubquery {
                subquery, negated, ..
            } if reads_empty_catalog(subquery) => {
                Some(Expr::Value(Value::Boolean(*negated).into()))
            }
            Expr::Subquery(query) => {
                aggregate_scalar_subquery(query);
                None
            }
            Expr::Cast {
                expr: inner,
                data_type,
                ..
            } => rewrite_cast(inner, data_type),
            // `ARRAY(SELECT ...)`: psql lists policy roles and publications with it, over
            // catalogs that are empty here; DataFusion has no array constructor from a subquery.
            Expr::Function(function)
                if last_part(&function.name).as_deref() == Some("array")
                    && matches!(function.args, FunctionArguments::Subquery(_)) =>
            {
                Some(Expr::Value(Value::Null.into()))
            }
            // PostgreSQL's upper bound of a 1-based array is its length here.
            Expr::Function(function)
                if last_part(&function.name).as_deref() == Some("array_upper") =>
            {
                let mut length = function.clone();
                length.name =
                    ObjectName(vec![ObjectNamePart::Identifier(Ident::new("array_length"))]);
                Some(cast_to(Expr::Function(length), SqlType::BigInt(None)))
            }
            Expr::Function(function) => {
                if function.name.0.len() == 2
                    && matches!(
                        function.name.0.first(),
                        Some(ObjectNamePart::Identifier(i)) if i.value.eq_ignore_ascii_case(PG_CATALOG)
                    )
                {
                    function.name.0.remove(0);
                }
                None
            }
            _ => None,
        };
        if let Some(new) = replacement {
            *expr = new;
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewritten(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        rewrite(&mut statements[0]);
        statements[0].to_string()
    }

    #[test]
    fn psql_operators_collations_and_casts_become_plain_sql() {
        let sql = rewritten(
            "SELECT c.oid FROM pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' \
             COLLATE pg_catalog.default AND c.oid = 'gold.orders'::regclass \
             AND pg_catalog.pg_table_is_visible(c.oid) AND c.reloftype::pg_catalog.regtype::pg_catalog.text = ''",
        );
        assert_eq!(
            sql,
            "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname ~ '^(orders)$' \
             AND c.oid = pg_regclass('gold.orders') AND pg_table_is_visible(c.oid) \
             AND CAST(format_type(c.reloftype) AS TEXT) = ''"
        );
    }

    #[test]
    fn oid_casts_become_unsigned_integers() {
        assert_eq!(
            rewritten("select 1::oid, x::int2"),
            "SELECT arrow_cast(1, 'UInt32') AS \"oid\", x::INT2 AS \"x\""
        );
    }
}

#[cfg(test)]
mod naming_tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    #[test]
    fn unnamed_columns_are_named_as_postgresql_names_them() {
        let mut statements = Parser::parse_sql(
            &PostgreSqlDialect {},
            "select count(*), count(x), sum(y)::int, 1 + 1, '1'::int, (select relname from t), \
             case when a then 1 end, n.nspname from n",
        )
        .expect("parses");
        rewrite(&mut statements[0]);
        assert_eq!(
            statements[0].to_string(),
            "SELECT count(*) AS \"count\", count(x), sum(y)::INT AS \"sum\", \
             1 + 1 AS \"?column?\", '1'::INT AS \"int4\", \
             (SELECT max(relname) FROM t) AS \"relname\", \
             CASE WHEN a THEN 1 END AS \"case\", n.nspname FROM n"
        );
    }
}

#[cfg(test)]
mod psql_tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    #[test]
    fn subqueries_over_empty_catalogs_are_null() {
        let sql = "SELECT a.attname, (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid), \
                   (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t WHERE c.oid = a.attcollation) AS attcollation FROM pg_catalog.pg_attribute a";
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        rewrite(&mut statements[0]);
        assert_eq!(
            statements[0].to_string(),
            "SELECT a.attname, NULL AS \"pg_get_expr\", NULL AS attcollation FROM pg_catalog.pg_attribute a"
        );
    }
}
