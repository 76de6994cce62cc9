//! The customer models of `orderlake-predict` as SQL window functions. Each fits its model on
//! the rows of its window partition — `over ()` fits on every customer — and returns one
//! prediction per row, so a prediction model is an ordinary SQL model:
//!
//! ```sql
//! select customer_id,
//!        bgnbd_p_active(repeat_orders, recency_days, age_days, 90) over () as p_active_90d
//! from customer_histories
//! ```
//!
//! - `bgnbd_p_alive(frequency, recency, age)`
//! - `bgnbd_p_active(frequency, recency, age, horizon)`: P(at least one order within `horizon`)
//! - `bgnbd_expected_orders(frequency, recency, age, horizon)`
//! - `gamma_gamma_expected_value(orders, average_order_value)`
//!
//! `frequency` counts repeat orders; `recency` and `age` run from the first order to the last
//! order and to the cutoff, in the same unit as `horizon`. Rows with a null argument get null
//! and are left out of the fit.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl,
};
use orderlake_predict::{BgNbd, GammaGamma, History, Spend};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Prediction {
    PAlive,
    PActive,
    ExpectedOrders,
    ExpectedValue,
}

impl Prediction {
    fn name(self) -> &'static str {
        match self {
            Prediction::PAlive => "bgnbd_p_alive",
            Prediction::PActive => "bgnbd_p_active",
            Prediction::ExpectedOrders => "bgnbd_expected_orders",
            Prediction::ExpectedValue => "gamma_gamma_expected_value",
        }
    }

    fn arguments(self) -> usize {
        match self {
            Prediction::PAlive => 3,
            Prediction::PActive | Prediction::ExpectedOrders => 4,
            Prediction::ExpectedValue => 2,
        }
    }
}

/// Every customer-model window function.
pub(super) fn window_functions() -> Vec<WindowUDF> {
    [
        Prediction::PAlive,
        Prediction::PActive,
        Prediction::ExpectedOrders,
        Prediction::ExpectedValue,
    ]
    .into_iter()
    .map(|prediction| {
        WindowUDF::new_from_impl(CustomerModel {
            prediction,
            signature: Signature::uniform(
                prediction.arguments(),
                vec![DataType::Float64],
                Volatility::Immutable,
            ),
        })
    })
    .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CustomerModel {
    prediction: Prediction,
    signature: Signature,
}

impl WindowUDFImpl for CustomerModel {
    fn name(&self) -> &str {
        self.prediction.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(FitAndPredict {
            prediction: self.prediction,
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Float64,
            true,
        )))
    }
}

#[derive(Debug)]
struct FitAndPredict {
    prediction: Prediction,
}

impl PartitionEvaluator for FitAndPredict {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let name = self.prediction.name();
        let columns = values
            .iter()
            .map(|v| {
                let as_float = cast(v, &DataType::Float64)?;
                as_float
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .cloned()
                    .ok_or_else(|| DataFusionError::Internal(format!("{name}: cast to double")))
            })
            .collect::<Result<Vec<Float64Array>>>()?;
        // The rows every argument is known for: fitted on, and predicted.
        let rows: Vec<usize> = (0..num_rows)
            .filter(|&i| columns.iter().all(|c| c.is_valid(i)))
            .collect();
        let mut out: Vec<Option<f64>> = vec![None; num_rows];
        if rows.is_empty() {
            return Ok(Arc::new(Float64Array::from(out)));
        }
        let at = |column: usize, row: usize| columns[column].value(row);
        let fit_error =
            |e: orderlake_predict::FitError| DataFusionError::Execution(format!("{name}: {e}"));
        match self.prediction {
            Prediction::ExpectedValue => {
                let spends: Vec<Spend> = rows
                    .iter()
                    .map(|&i| Spend {
                        orders: at(0, i),
                        average: at(1, i),
                    })
                    .collect();
                let model = GammaGamma::fit(&spends).map_err(fit_error)?;
                for (&i, spend) in rows.iter().zip(&spends) {
                    out[i] = Some(model.expected_average(spend));
                }
            }
            prediction => {
                let histories: Vec<History> = rows
                    .iter()
                    .map(|&i| History {
                        frequency: at(0, i),
                        recency: at(1, i),
                        age: at(2, i),
                    })
                    .collect();
                let horizon = if prediction == Prediction::PAlive {
                    0.0
                } else {
                    let first = at(3, rows[0]);
                    if let Some(&other) = rows.iter().find(|&&i| at(3, i) != first) {
                        return exec_err!(
                            "{name}: the horizon must be the same on every row (got {first} and {})",
                            at(3, other)
                        );
                    }
                    first
                };
                let model = BgNbd::fit(&histories).map_err(fit_error)?;
                tracing::debug!(
                    function = name,
                    customers = histories.len(),
                    ?model,
                    "fitted"
                );
                for (&i, history) in rows.iter().zip(&histories) {
                    out[i] = Some(match prediction {
                        Prediction::PAlive => model.p_alive(history),
                        Prediction::PActive => model.p_active_within(history, horizon),
                        _ => model.expected_purchases(history, horizon),
                    });
                }
            }
        }
        Ok(Arc::new(Float64Array::from(out)))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, Float64Array};
    use datafusion::prelude::SessionContext;

    async fn context() -> SessionContext {
        let ctx = SessionContext::new();
        for udwf in super::window_functions() {
            ctx.register_udwf(udwf);
        }
        ctx
    }

    #[tokio::test]
    async fn fits_over_the_window_and_predicts_each_row() {
        let ctx = context().await;
        let sql = "with h(id, frequency, recency, age, orders, average) as (values \
            (1, 0, 0, 200, 1, 50.0), (2, 5, 190, 200, 6, 80.0), (3, 5, 20, 200, 6, 80.0), \
            (4, 2, 100, 150, 3, 40.0), (5, 9, 140, 150, 10, 120.0), (6, 1, 10, 300, 2, 60.0), \
            (7, null, 0, 100, 1, 10.0)) \
            select id, bgnbd_p_alive(frequency, recency, age) over () as alive, \
            bgnbd_p_active(frequency, recency, age, 90) over () as active, \
            bgnbd_expected_orders(frequency, recency, age, 90) over () as orders, \
            gamma_gamma_expected_value(orders, average) over () as value from h order by id";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let column = |name: &str| -> Vec<Option<f64>> {
            batches
                .iter()
                .flat_map(|b| {
                    let a = b.column_by_name(name).unwrap();
                    let a = a.as_any().downcast_ref::<Float64Array>().unwrap();
                    (0..a.len())
                        .map(|i| a.is_valid(i).then(|| a.value(i)))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let (alive, active) = (column("alive"), column("active"));
        // Same orders, last one recent versus long ago.
        assert!(alive[1].unwrap() > alive[2].unwrap());
        assert!(active[1].unwrap() > active[2].unwrap());
        assert_eq!(alive[0], Some(1.0));
        // A null argument: no prediction, and not in the fit.
        assert_eq!(alive[6], None);
        assert_eq!(column("orders")[6], None);
        assert!(column("value").iter().all(|v| v.is_some_and(|v| v > 0.0)));
    }

    #[tokio::test]
    async fn a_horizon_that_varies_by_row_is_an_error() {
        let ctx = context().await;
        let sql = "with h(f, r, a, t) as (values (1, 1, 2, 90), (2, 3, 4, 30)) \
            select bgnbd_p_active(f, r, a, t) over () from h";
        let err = ctx.sql(sql).await.unwrap().collect().await.unwrap_err();
        assert!(
            err.to_string()
                .contains("bgnbd_p_active: the horizon must be the same"),
            "{err}"
        );
        let sql =
            "with h(f, r, a) as (values (1, 5, 2)) select bgnbd_p_alive(f, r, a) over () from h";
        let err = ctx.sql(sql).await.unwrap().collect().await.unwrap_err();
        assert!(
            err.to_string().contains("customer 0 has recency = 5"),
            "{err}"
        );
    }
}
