//! Gamma-Gamma: what a customer's next orders are worth, from the average of their past ones.

use crate::{FitError, ln_gamma, optimize};

const MODEL: &str = "Gamma-Gamma";

/// A customer's orders and their average value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spend {
    pub orders: f64,
    pub average: f64,
}

/// A fitted Gamma-Gamma: order values ~ Gamma(p, ν) per customer, ν ~ Gamma(q, γ) across them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

impl GammaGamma {
    /// Maximum-likelihood fit over the customers with a positive average (an average of zero or
    /// less — everything refunded — says nothing about order values).
    pub fn fit(spends: &[Spend]) -> Result<GammaGamma, FitError> {
        for (index, s) in spends.iter().enumerate() {
            if !s.orders.is_finite() || s.orders < 1.0 {
                return Err(FitError::Invalid {
                    model: MODEL,
                    index,
                    field: "orders",
                    value: s.orders,
                    why: "not a count ≥ 1",
                });
            }
            if !s.average.is_finite() {
                return Err(FitError::Invalid {
                    model: MODEL,
                    index,
                    field: "average",
                    value: s.average,
                    why: "not a finite number",
                });
            }
        }
        let mut usable: Vec<Spend> = spends.iter().copied().filter(|s| s.average > 0.0).collect();
        // The fit must not depend on the order rows arrive in (floating-point sums do).
        usable.sort_by(|x, y| {
            (x.orders, x.average)
                .partial_cmp(&(y.orders, y.average))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        if usable.is_empty() {
            return Err(FitError::Empty { model: MODEL });
        }
        let n = usable.len() as f64;
        let mean = usable.iter().map(|s| s.average).sum::<f64>() / n;
        // q starts above 1 (the population mean p·γ/(q − 1) exists) with γ matching the mean.
        let start = [0.0, 2f64.ln(), mean.ln()];
        let objective = |theta: &[f64]| {
            let model = GammaGamma::from_logs(theta);
            let ll: f64 = usable.iter().map(|s| model.log_likelihood(s)).sum();
            -ll / n + 1e-4 * (theta[0] * theta[0] + theta[1] * theta[1])
        };
        let p = optimize::fit_on_logs(&objective, &start, MODEL)?;
        Ok(GammaGamma {
            p: p[0],
            q: p[1],
            gamma: p[2],
        })
    }

    fn from_logs(theta: &[f64]) -> GammaGamma {
        GammaGamma {
            p: theta[0].exp(),
            q: theta[1].exp(),
            gamma: theta[2].exp(),
        }
    }

    /// ln of the density of a customer's average order value.
    pub fn log_likelihood(&self, s: &Spend) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let (x, m) = (s.orders, s.average);
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
            + q * gamma.ln()
            + (p * x - 1.0) * m.ln()
            + p * x * x.ln()
            - (p * x + q) * (gamma + m * x).ln()
    }

    /// The expected value of this customer's next order: their own average, shrunk towards the
    /// population's by how few orders it rests on.
    pub fn expected_average(&self, s: &Spend) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let denominator = p * s.orders + q - 1.0;
        if denominator <= 0.0 {
            // The posterior mean does not exist (very heavy tails); the customer's own average
            // is the honest fallback.
            return s.average.max(0.0);
        }
        p * (gamma + s.orders * s.average.max(0.0)) / denominator
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn exponential_mean(rng: &mut StdRng, mean: f64) -> f64 {
        -(1.0 - rng.random::<f64>()).ln() * mean
    }

    #[test]
    fn shrinks_few_order_averages_towards_the_population_and_trusts_many() {
        // Order values: exponential (p = 1) around a mean that varies by customer.
        let mut rng = StdRng::seed_from_u64(3);
        let spends: Vec<(Spend, f64)> = (0..4000)
            .map(|i| {
                let own_mean = 50.0 + 450.0 * rng.random::<f64>();
                let orders = 1 + i % 12;
                let total: f64 = (0..orders)
                    .map(|_| exponential_mean(&mut rng, own_mean))
                    .sum();
                (
                    Spend {
                        orders: orders as f64,
                        average: total / orders as f64,
                    },
                    own_mean,
                )
            })
            .collect();
        let fitted = GammaGamma::fit(&spends.iter().map(|(s, _)| *s).collect::<Vec<_>>()).unwrap();
        let population = 275.0;
        let one_order = Spend {
            orders: 1.0,
            average: 1000.0,
        };
        let many_orders = Spend {
            orders: 40.0,
            average: 1000.0,
        };
        // An average far above everyone else's is believed more, the more orders back it.
        let (one, many) = (
            fitted.expected_average(&one_order),
            fitted.expected_average(&many_orders),
        );
        assert!(
            population < one && one < many && many < 1000.0,
            "{one} {many} {fitted:?}"
        );
        // Shrinkage beats the raw average at predicting each customer's true mean.
        let (mut raw, mut shrunk) = (0.0, 0.0);
        for (s, truth) in &spends {
            raw += (s.average - truth).abs();
            shrunk += (fitted.expected_average(s) - truth).abs();
        }
        assert!(shrunk < raw, "{shrunk} vs {raw}");
        let mean_prediction = spends
            .iter()
            .map(|(s, _)| fitted.expected_average(s))
            .sum::<f64>()
            / spends.len() as f64;
        assert!(
            (mean_prediction / population - 1.0).abs() < 0.1,
            "{mean_prediction}"
        );
    }

    #[test]
    fn non_positive_averages_are_left_out_of_the_fit_and_bad_counts_named() {
        let spends = [
            Spend {
                orders: 2.0,
                average: 100.0,
            },
            Spend {
                orders: 1.0,
                average: -5.0,
            },
            Spend {
                orders: 3.0,
                average: 120.0,
            },
            Spend {
                orders: 1.0,
                average: 90.0,
            },
        ];
        let fitted = GammaGamma::fit(&spends).unwrap();
        assert!(fitted.expected_average(&spends[1]) > 0.0);
        let err = GammaGamma::fit(&[Spend {
            orders: 0.0,
            average: 1.0,
        }])
        .unwrap_err();
        assert!(
            err.to_string().contains("customer 0 has orders = 0"),
            "{err}"
        );
        assert_eq!(
            GammaGamma::fit(&[Spend {
                orders: 1.0,
                average: 0.0
            }])
            .unwrap_err(),
            FitError::Empty { model: MODEL }
        );
    }
}
