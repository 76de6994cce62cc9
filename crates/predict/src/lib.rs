//! Customer-base models fitted from order history alone, for `gold.customer_predictions`.
//!
//! Each customer is summarised by three numbers — how many repeat orders, when the last one was
//! and how long they have been a customer — plus the average value of their orders. From those:
//!
//! - [`BgNbd`] (Fader, Hardie & Lee, 2005, "Counting your customers the easy way"): while alive a
//!   customer orders at their own Poisson rate λ (Gamma-distributed across customers); after each
//!   order they drop out for good with their own probability p (Beta-distributed). Fitted by
//!   maximum likelihood, it gives the probability that a customer is still alive, that they order
//!   at all in the next `t` days (the churn risk), and how many orders to expect.
//! - [`GammaGamma`] (Fader, Hardie & Lee, 2005, "RFM and CLV"): order values vary around each
//!   customer's own mean, which varies across customers; it shrinks a customer's observed average
//!   towards the population's, more so the fewer orders they have.
//!
//! Expected value over a horizon = expected orders × expected order value.
//! [`roc_auc`] and [`mean_absolute_error`] judge a backtest.
//!
//! No engine here: the SQL functions that fit these over a query's rows live in the engine.

mod bgnbd;
mod gamma_gamma;
mod metrics;
mod optimize;

pub use bgnbd::{BgNbd, History};
pub use gamma_gamma::{GammaGamma, Spend};
pub use metrics::{mean_absolute_error, roc_auc};

/// Why a model could not be fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("no customers to fit the {model} model on")]
    Empty { model: &'static str },
    #[error("{model}: customer {index} has {field} = {value}, which is {why}")]
    Invalid {
        model: &'static str,
        index: usize,
        field: &'static str,
        value: f64,
        why: &'static str,
    },
    #[error("{model}: the fit did not converge to finite parameters")]
    Diverged { model: &'static str },
}

/// ln Γ(x) for x > 0.
fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}
