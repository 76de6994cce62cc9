//! SQL functions that dbt projects written for DuckDB, Postgres or Snowflake use and DataFusion
//! lacks. Each is rewritten into DataFusion's own expressions at planning time, so the optimizer
//! and the vectorised kernels see ordinary expressions.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, ScalarValue, plan_err};
use std::sync::Arc;

use datafusion::execution::FunctionRegistry as _;
use datafusion::execution::session_state::SessionState;
use datafusion::functions::expr_fn::{date_part, date_trunc};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit,
};

/// Registers every function a warehouse session has — these compatibility functions and
/// datafusion-functions-json's — in `state`. A cluster's scheduler and executors register the
/// same, so plans that call them decode there.
pub fn register_all(state: &mut SessionState) -> Result<()> {
    // JSON text (API exports land nested objects as JSON): json_get_str, json_get_array, ->>, …
    datafusion_functions_json::register_all(state)?;
    let mut udfs = vec![
        ScalarUDF::new_from_impl(DateDiff::new()),
        ScalarUDF::new_from_impl(DateAdd::new()),
    ];
    udfs.extend(
        duckdb::scalar_rewrites()
            .into_iter()
            .map(ScalarUDF::new_from_impl),
    );
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
        udfs.push(ScalarUDF::new_from_impl(DatePartShorthand::new(part)));
    }
    for udf in udfs {
        state.register_udf(Arc::new(udf))?;
    }
    for udaf in duckdb::aggregates() {
        state.register_udaf(Arc::new(udaf))?;
    }
    for udwf in customer_models::window_functions() {
        state.register_udwf(Arc::new(udwf))?;
    }
    Ok(())
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

/// `dateadd(unit, n, t)` / `date_add`/`timestampadd`: `t` moved by `n` units, as a timestamp
/// (Snowflake's and SQL Server's form; dbt's cross-database `dateadd` renders to it). Months,
/// quarters and years keep the day of month, clamped to the month's end (Jan 31 + 1 month =
/// Feb 29), as DuckDB, Postgres and Snowflake do. DataFusion cannot multiply an interval by a
/// column, so this one is evaluated row by row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateAdd {
    signature: Signature,
    aliases: Vec<String>,
}

impl DateAdd {
    fn new() -> Self {
        DateAdd {
            signature: Signature::any(3, Volatility::Immutable),
            aliases: vec!["timestampadd".to_string()],
        }
    }
}

/// A step of `dateadd`: a number of months, or of microseconds.
enum Step {
    Months(i64),
    Micros(i64),
}

fn dateadd_step(unit: &str) -> Result<Step> {
    let unit = unit.trim_end_matches('s');
    Ok(match unit {
        "year" | "yy" | "yyyy" | "y" => Step::Months(12),
        "quarter" | "qq" | "q" => Step::Months(3),
        "month" | "mm" | "mon" => Step::Months(1),
        "week" | "wk" | "w" => Step::Micros(7 * 86_400_000_000),
        "day" | "dd" | "d" => Step::Micros(86_400_000_000),
        "hour" | "hh" | "h" => Step::Micros(3_600_000_000),
        "minute" | "mi" | "min" => Step::Micros(60_000_000),
        "second" | "ss" | "sec" => Step::Micros(1_000_000),
        "millisecond" | "ms" => Step::Micros(1_000),
        "microsecond" | "us" => Step::Micros(1),
        other => return plan_err!("dateadd: unknown unit '{other}'"),
    })
}

impl ScalarUDFImpl for DateAdd {
    fn name(&self) -> &str {
        "dateadd"
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Microsecond, None))
    }
    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        // Snowflake's unquoted unit (`dateadd(day, 1, t)`) parses as a column: make it a literal.
        match args.first() {
            Some(Expr::Column(c)) => {
                let unit = c.name.to_ascii_lowercase();
                dateadd_step(&unit)?;
                let mut args = args;
                args[0] = lit(unit);
                Ok(ExprSimplifyResult::Simplified(
                    ScalarUDF::new_from_impl(DateAdd::new()).call(args),
                ))
            }
            _ => Ok(ExprSimplifyResult::Original(args)),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::{Array, AsArray, TimestampMicrosecondArray};
        use datafusion::arrow::datatypes::{Int64Type, TimestampMicrosecondType};
        let rows = args.number_rows;
        let [unit, n, t] = <[ColumnarValue; 3]>::try_from(args.args).map_err(|_| {
            datafusion::error::DataFusionError::Plan("dateadd takes (unit, n, t)".into())
        })?;
        let unit = match &unit {
            ColumnarValue::Scalar(
                ScalarValue::Utf8(Some(s))
                | ScalarValue::Utf8View(Some(s))
                | ScalarValue::LargeUtf8(Some(s)),
            ) => s.to_ascii_lowercase(),
            _ => return plan_err!("dateadd: the unit must be a constant such as 'day'"),
        };
        let step = dateadd_step(&unit)?;
        let n = datafusion::arrow::compute::cast(&n.to_array(rows)?, &DataType::Int64)?;
        let t = datafusion::arrow::compute::cast(
            &t.to_array(rows)?,
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?;
        let (n, t) = (
            n.as_primitive::<Int64Type>(),
            t.as_primitive::<TimestampMicrosecondType>(),
        );
        let out: TimestampMicrosecondArray = (0..rows)
            .map(|i| {
                if n.is_null(i) || t.is_null(i) {
                    return None;
                }
                let (n, t) = (n.value(i), t.value(i));
                match step {
                    Step::Micros(unit) => n.checked_mul(unit).and_then(|d| t.checked_add(d)),
                    Step::Months(unit) => {
                        let at = chrono::DateTime::from_timestamp_micros(t)?.naive_utc();
                        let months = n.checked_mul(unit)?;
                        let moved = if months >= 0 {
                            at.checked_add_months(chrono::Months::new(u32::try_from(months).ok()?))
                        } else {
                            at.checked_sub_months(chrono::Months::new(u32::try_from(-months).ok()?))
                        }?;
                        Some(moved.and_utc().timestamp_micros())
                    }
                }
            })
            .collect();
        Ok(ColumnarValue::Array(std::sync::Arc::new(out)))
    }
}

mod customer_models;
mod duckdb;

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
