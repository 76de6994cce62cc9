//! DuckDB's spellings of functions DataFusion has under another name or shape: each is planned
//! as DataFusion's own expression (no row-by-row code), so the optimizer sees ordinary
//! expressions. `strftime(t, fmt)` → `to_char`, `strptime(s, fmt)` → `to_timestamp`,
//! `epoch(t)`, `len(x)` (string or list), `regexp_matches`, `string_split`; the aggregates
//! `list(x)` (= `array_agg`), `count_if(cond)`, `arg_max`/`max_by`, `arg_min`/`min_by`.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::{Result, plan_err};
use datafusion::functions::expr_fn::{character_length, date_part, regexp_like, to_char};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, AggregateFunctionSimplification};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Expr, ScalarFunctionArgs,
    ScalarUDFImpl, Signature, SortExpr, Volatility, cast, lit, when,
};

type Rewrite = fn(Vec<Expr>, &SimplifyContext) -> Result<Expr>;
type ReturnType = fn(&[DataType]) -> Result<DataType>;

/// A scalar function that only exists until simplification rewrites it.
#[derive(Debug)]
pub(super) struct Renamed {
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
    return_type: ReturnType,
    rewrite: Rewrite,
}

impl PartialEq for Renamed {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Renamed {}
impl std::hash::Hash for Renamed {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

fn renamed(
    name: &'static str,
    aliases: &[&str],
    args: usize,
    return_type: ReturnType,
    rewrite: Rewrite,
) -> Renamed {
    Renamed {
        name,
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        signature: Signature::any(args, Volatility::Immutable),
        return_type,
        rewrite,
    }
}

fn two(args: Vec<Expr>, name: &str) -> Result<(Expr, Expr)> {
    let mut it = args.into_iter();
    match (it.next(), it.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => plan_err!("{name} takes two arguments"),
    }
}

fn one(args: Vec<Expr>, name: &str) -> Result<Expr> {
    match args.into_iter().next() {
        Some(a) => Ok(a),
        None => plan_err!("{name} takes one argument"),
    }
}

pub(super) fn scalar_rewrites() -> Vec<Renamed> {
    vec![
        renamed(
            "strftime",
            &[],
            2,
            |_| Ok(DataType::Utf8),
            |args, _| {
                let (t, fmt) = two(args, "strftime")?;
                Ok(cast(to_char(t, fmt), DataType::Utf8))
            },
        ),
        renamed(
            "strptime",
            &[],
            2,
            |_| Ok(DataType::Timestamp(TimeUnit::Microsecond, None)),
            |args, _| {
                let (s, fmt) = two(args, "strptime")?;
                Ok(cast(
                    datafusion::functions::expr_fn::to_timestamp(vec![s, fmt]),
                    DataType::Timestamp(TimeUnit::Microsecond, None),
                ))
            },
        ),
        renamed(
            "epoch",
            &[],
            1,
            |_| Ok(DataType::Float64),
            |args, _| {
                Ok(cast(
                    date_part(lit("epoch"), one(args, "epoch")?),
                    DataType::Float64,
                ))
            },
        ),
        renamed(
            "regexp_matches",
            &[],
            2,
            |_| Ok(DataType::Boolean),
            |args, _| {
                let (s, p) = two(args, "regexp_matches")?;
                Ok(regexp_like(s, p, None))
            },
        ),
        renamed(
            "string_split",
            &["str_split"],
            2,
            |_| {
                Ok(DataType::List(Arc::new(Field::new_list_field(
                    DataType::Utf8,
                    true,
                ))))
            },
            |args, _| {
                let (s, sep) = two(args, "string_split")?;
                Ok(datafusion::functions_nested::expr_fn::string_to_array(
                    s,
                    sep,
                    lit(datafusion::common::ScalarValue::Utf8(None)),
                ))
            },
        ),
        renamed(
            "len",
            &[],
            1,
            |_| Ok(DataType::Int64),
            |args, info| {
                let x = one(args, "len")?;
                let is_list = matches!(
                    info.get_data_type(&x)?,
                    DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                );
                Ok(if is_list {
                    cast(
                        datafusion::functions_nested::expr_fn::cardinality(x),
                        DataType::Int64,
                    )
                } else {
                    cast(character_length(x), DataType::Int64)
                })
            },
        ),
    ]
}

impl ScalarUDFImpl for Renamed {
    fn name(&self) -> &str {
        self.name
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        (self.return_type)(args)
    }
    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        plan_err!("{} should have been rewritten before execution", self.name)
    }
    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        Ok(ExprSimplifyResult::Simplified((self.rewrite)(args, info)?))
    }
}

/// An aggregate that simplification rewrites into DataFusion's own.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RenamedAggregate {
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
    kind: AggregateKind,
}

#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum AggregateKind {
    CountIf,
    /// `arg_max(x, by)`: x of the row with the greatest `by` (`descending`), or the least.
    ArgBy {
        descending: bool,
    },
}

pub(super) fn aggregates() -> Vec<AggregateUDF> {
    let list = datafusion::functions_aggregate::array_agg::array_agg_udaf();
    let list = list.as_ref().clone().with_aliases(["list"]);
    let made = |name: &'static str, aliases: &[&str], args, kind| {
        AggregateUDF::new_from_impl(RenamedAggregate {
            name,
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            signature: Signature::any(args, Volatility::Immutable),
            kind,
        })
    };
    vec![
        list,
        made("count_if", &[], 1, AggregateKind::CountIf),
        made(
            "arg_max",
            &["max_by", "argmax"],
            2,
            AggregateKind::ArgBy { descending: true },
        ),
        made(
            "arg_min",
            &["min_by", "argmin"],
            2,
            AggregateKind::ArgBy { descending: false },
        ),
    ]
}

impl AggregateUDFImpl for RenamedAggregate {
    fn name(&self) -> &str {
        self.name
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match self.kind {
            AggregateKind::CountIf => Ok(DataType::Int64),
            AggregateKind::ArgBy { .. } => match args.first() {
                Some(t) => Ok(t.clone()),
                None => plan_err!("{} takes (value, by)", self.name),
            },
        }
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        plan_err!("{} should have been rewritten before execution", self.name)
    }
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        let kind = self.kind;
        let name = self.name;
        Some(Box::new(move |function: AggregateFunction, _info| {
            let params = function.params;
            let mut args = params.args.into_iter();
            match kind {
                AggregateKind::CountIf => {
                    let Some(condition) = args.next() else {
                        return plan_err!("count_if takes a condition");
                    };
                    let counted = when(condition, lit(1i64)).end()?;
                    Ok(Expr::AggregateFunction(AggregateFunction::new_udf(
                        datafusion::functions_aggregate::count::count_udaf(),
                        vec![counted],
                        params.distinct,
                        params.filter,
                        Vec::new(),
                        None,
                    )))
                }
                AggregateKind::ArgBy { descending } => {
                    let (Some(value), Some(by)) = (args.next(), args.next()) else {
                        return plan_err!("{name} takes (value, by)");
                    };
                    // Rows whose `by` is null never win, as in DuckDB.
                    let filter = match params.filter {
                        Some(f) => Some(Box::new((*f).and(by.clone().is_not_null()))),
                        None => Some(Box::new(by.clone().is_not_null())),
                    };
                    Ok(Expr::AggregateFunction(AggregateFunction::new_udf(
                        datafusion::functions_aggregate::first_last::first_value_udaf(),
                        vec![value],
                        false,
                        filter,
                        vec![SortExpr::new(by, !descending, false)],
                        None,
                    )))
                }
            }
        }))
    }
}
