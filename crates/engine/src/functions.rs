//! SQL functions that dbt projects written for DuckDB, Postgres or Snowflake use and DataFusion
//! lacks. Each is rewritten into DataFusion's own expressions at planning time, so the optimizer
//! and the vectorised kernels see ordinary expressions.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::execution::context::SessionContext;
use datafusion::functions::expr_fn::{date_part, date_trunc};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit,
};

/// Registers every compatibility function on `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(DateDiff::new()));
    for part in [
        "year",
        "quarter",
        "month",
        "day",
        "hour",
        "minute",
        "dayofweek",
        "dayofyear",
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(DatePartShorthand::new(part)));
    }
}

fn unit_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => Some(s.to_ascii_lowercase()),
        // Snowflake's `datediff(day, a, b)`: an unquoted unit parses as a column named `day`.
        Expr::Column(c) => Some(c.name.to_ascii_lowercase()),
        _ => None,
    }
}

/// `datediff(unit, start, end)` / `date_diff(unit, start, end)`: the number of unit boundaries
/// crossed from `start` to `end` (Snowflake and DuckDB semantics).
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateDiff {
    signature: Signature,
    aliases: Vec<String>,
}

impl DateDiff {
    fn new() -> Self {
        DateDiff {
            signature: Signature::any(3, Volatility::Immutable),
            aliases: vec!["date_diff".to_string()],
        }
    }
}

fn part(name: &str, e: Expr) -> Expr {
    // Simplification runs after type coercion: every operand must already be Int64.
    cast(date_part(lit(name.to_string()), e), DataType::Int64)
}

fn as_timestamp(e: Expr) -> Expr {
    cast(
        e,
        DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
    )
}

impl ScalarUDFImpl for DateDiff {
    fn name(&self) -> &str {
        "datediff"
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        plan_err!("datediff: the unit must be a constant such as 'day'")
    }
    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let [unit, start, end] = <[Expr; 3]>::try_from(args).map_err(|_| {
            datafusion::error::DataFusionError::Plan("datediff takes (unit, start, end)".into())
        })?;
        let Some(unit) = unit_of(&unit) else {
            return plan_err!("datediff: the unit must be a constant such as 'day'");
        };
        let unit = unit.trim_end_matches('s').to_string();
        let (start, end) = (as_timestamp(start), as_timestamp(end));
        let months = |e: Expr| part("year", e.clone()) * lit(12i64) + part("month", e);
        let expr = match unit.as_str() {
            "year" | "yy" | "yyyy" => part("year", end) - part("year", start),
            "quarter" | "qq" => {
                (part("year", end.clone()) * lit(4i64) + part("quarter", end))
                    - (part("year", start.clone()) * lit(4i64) + part("quarter", start))
            }
            "month" | "mm" | "mon" => months(end) - months(start),
            "week" | "wk" | "day" | "dd" | "d" | "hour" | "hh" | "minute" | "mi" | "second"
            | "ss" => {
                let (trunc, seconds): (&str, i64) = match unit.as_str() {
                    "week" | "wk" => ("week", 604_800),
                    "day" | "dd" | "d" => ("day", 86_400),
                    "hour" | "hh" => ("hour", 3_600),
                    "minute" | "mi" => ("minute", 60),
                    _ => ("second", 1),
                };
                (part("epoch", date_trunc(lit(trunc), end))
                    - part("epoch", date_trunc(lit(trunc), start)))
                    / lit(seconds)
            }
            other => return plan_err!("datediff: unknown unit '{other}'"),
        };
        Ok(ExprSimplifyResult::Simplified(expr))
    }
}

/// `year(x)`, `month(x)`, `day(x)`, ...: shorthands for `date_part` that return integers.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DatePartShorthand {
    part: &'static str,
    signature: Signature,
}

impl DatePartShorthand {
    fn new(part: &'static str) -> Self {
        DatePartShorthand {
            part,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DatePartShorthand {
    fn name(&self) -> &str {
        self.part
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        plan_err!("{} should have been rewritten to date_part", self.part)
    }
    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let part = match self.part {
            "dayofweek" => "dow",
            "dayofyear" => "doy",
            p => p,
        };
        let Some(arg) = args.into_iter().next() else {
            return plan_err!("{} takes one argument", self.part);
        };
        Ok(ExprSimplifyResult::Simplified(cast(
            date_part(lit(part), arg),
            DataType::Int64,
        )))
    }
}
