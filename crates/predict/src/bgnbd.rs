//! BG/NBD: how often a customer orders while alive, and the chance they have quietly left.

use crate::{FitError, ln_gamma, optimize};

const MODEL: &str = "BG/NBD";

/// One customer's order history as of a cutoff, in one time unit throughout (days here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    /// Repeat orders: all orders after the first.
    pub frequency: f64,
    /// Time from the first order to the last.
    pub recency: f64,
    /// Time from the first order to the cutoff.
    pub age: f64,
}

impl History {
    fn check(&self, index: usize) -> Result<(), FitError> {
        let invalid = |field, value, why| FitError::Invalid {
            model: MODEL,
            index,
            field,
            value,
            why,
        };
        for (field, value) in [
            ("frequency", self.frequency),
            ("recency", self.recency),
            ("age", self.age),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(invalid(field, value, "not a finite number ≥ 0"));
            }
        }
        if self.recency > self.age {
            return Err(invalid(
                "recency",
                self.recency,
                "more than the customer's age (last order after the cutoff?)",
            ));
        }
        Ok(())
    }
}

/// A fitted BG/NBD: purchase rates ~ Gamma(r, α), dropout probabilities ~ Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbd {
    /// Maximum-likelihood fit over `histories`.
    pub fn fit(histories: &[History]) -> Result<BgNbd, FitError> {
        if histories.is_empty() {
            return Err(FitError::Empty { model: MODEL });
        }
        for (index, h) in histories.iter().enumerate() {
            h.check(index)?;
        }
        // The fit must not depend on the order rows arrive in (floating-point sums do).
        let mut histories = histories.to_vec();
        histories.sort_by(|x, y| {
            (x.frequency, x.recency, x.age)
                .partial_cmp(&(y.frequency, y.recency, y.age))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let histories = histories.as_slice();
        let n = histories.len() as f64;
        let mean_age = histories.iter().map(|h| h.age).sum::<f64>() / n;
        let mean_frequency = histories.iter().map(|h| h.frequency).sum::<f64>() / n;
        // Start where a rate of one order per (age / orders) would put α; parameters are searched
        // on a log scale so they stay positive.
        let start = [
            0.0,
            (mean_age / (mean_frequency + 1.0)).max(1e-3).ln(),
            0.0,
            0.0,
        ];
        let objective = |theta: &[f64]| {
            let model = BgNbd::from_logs(theta);
            let ll: f64 = histories.iter().map(|h| model.log_likelihood(h)).sum();
            // A whisper of ridge on the logs keeps flat likelihoods (few customers) from
            // wandering off to extreme parameters.
            -ll / n + 1e-4 * theta.iter().map(|t| t * t).sum::<f64>()
        };
        let p = optimize::fit_on_logs(&objective, &start, MODEL)?;
        Ok(BgNbd {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        })
    }

    fn from_logs(theta: &[f64]) -> BgNbd {
        BgNbd {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            a: theta[2].exp(),
            b: theta[3].exp(),
        }
    }

    /// ln L of one history (Fader, Hardie & Lee 2005, eq. 6).
    pub fn log_likelihood(&self, h: &History) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = h.frequency;
        let common = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + ln_gamma(a + b) - ln_gamma(b)
            + ln_gamma(b + x)
            - ln_gamma(a + b + x);
        // Alive at the cutoff after x repeat orders …
        let alive = -(r + x) * (alpha + h.age).ln();
        if x == 0.0 {
            return common + alive;
        }
        // … or dropped out right after the last one.
        let dropped = (a / (b + x - 1.0)).ln() - (r + x) * (alpha + h.recency).ln();
        common + log_add_exp(alive, dropped)
    }

    /// The probability the customer has not dropped out by the cutoff.
    pub fn p_alive(&self, h: &History) -> f64 {
        if h.frequency == 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let x = h.frequency;
        let log_odds_dropped =
            (a / (b + x - 1.0)).ln() + (r + x) * ((alpha + h.age) / (alpha + h.recency)).ln();
        1.0 / (1.0 + log_odds_dropped.exp())
    }

    /// The probability of at least one order in the `t` after the cutoff: alive, and the
    /// posterior purchase rate produces an order (dropout only ever follows an order, so an
    /// alive customer's first order in the window is a Poisson event).
    pub fn p_active_within(&self, h: &History, t: f64) -> f64 {
        let shape = self.r + h.frequency;
        let rate = self.alpha + h.age;
        let none_if_alive = (shape * (rate / (rate + t)).ln()).exp();
        self.p_alive(h) * (1.0 - none_if_alive)
    }

    /// Expected orders in the `t` after the cutoff (Fader, Hardie & Lee 2005, eq. 10).
    pub fn expected_purchases(&self, h: &History, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        // The closed form has a removable singularity at a = 1: step around it.
        if (self.a - 1.0).abs() < 1e-4 {
            let below = BgNbd {
                a: 1.0 - 2e-4,
                ..*self
            };
            let above = BgNbd {
                a: 1.0 + 2e-4,
                ..*self
            };
            return (below.expected_purchases(h, t) + above.expected_purchases(h, t)) / 2.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let x = h.frequency;
        let z = t / (alpha + h.age + t);
        let discount = ((r + x) * ((alpha + h.age) / (alpha + h.age + t)).ln()).exp();
        let hyper = hypergeometric_2f1(r + x, b + x, a + b + x - 1.0, z);
        let if_alive = (a + b + x - 1.0) / (a - 1.0) * (1.0 - discount * hyper);
        (self.p_alive(h) * if_alive).max(0.0)
    }
}

fn log_add_exp(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    m + ((x - m).exp() + (y - m).exp()).ln()
}

/// Gauss's ₂F₁(a, b; c; z) by its power series, for 0 ≤ z < 1.
fn hypergeometric_2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..200_000 {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-15 * sum.abs() {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn gamma_variate(rng: &mut StdRng, shape: f64) -> f64 {
        // Marsaglia & Tsang, boosted for shape < 1.
        if shape < 1.0 {
            let u: f64 = rng.random();
            return gamma_variate(rng, shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let (u1, u2): (f64, f64) = (rng.random(), rng.random());
            let normal = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let v = (1.0 + c * normal).powi(3);
            let u: f64 = rng.random();
            if v > 0.0 && u.ln() < 0.5 * normal * normal + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// Customers drawn from `truth`, joining evenly over `span` days, observed to its end, then
    /// followed for `horizon` more days: (history at the cutoff, orders in the horizon).
    fn simulate(truth: BgNbd, customers: usize, span: f64, horizon: f64) -> Vec<(History, f64)> {
        let mut rng = StdRng::seed_from_u64(7);
        (0..customers)
            .map(|_| {
                let rate = gamma_variate(&mut rng, truth.r) / truth.alpha;
                let g1 = gamma_variate(&mut rng, truth.a);
                let dropout = g1 / (g1 + gamma_variate(&mut rng, truth.b));
                let age = rng.random::<f64>() * span;
                let (mut now, mut frequency, mut recency, mut later) = (0.0, 0.0, 0.0, 0.0);
                loop {
                    now += -(1.0 - rng.random::<f64>()).ln() / rate;
                    if now > age + horizon {
                        break;
                    }
                    if now <= age {
                        frequency += 1.0;
                        recency = now;
                    } else {
                        later += 1.0;
                    }
                    if rng.random::<f64>() < dropout {
                        break;
                    }
                }
                (
                    History {
                        frequency,
                        recency,
                        age,
                    },
                    later,
                )
            })
            .collect()
    }

    #[test]
    fn recovers_the_parameters_it_was_simulated_from_and_predicts_the_holdout() {
        let truth = BgNbd {
            r: 0.8,
            alpha: 20.0,
            a: 0.9,
            b: 6.0,
        };
        let data = simulate(truth, 6000, 365.0, 90.0);
        let histories: Vec<History> = data.iter().map(|(h, _)| *h).collect();
        let fitted = BgNbd::fit(&histories).unwrap();
        for (what, got, want) in [
            ("r", fitted.r, truth.r),
            ("alpha", fitted.alpha, truth.alpha),
            ("a", fitted.a, truth.a),
            ("b", fitted.b, truth.b),
        ] {
            assert!(
                (got / want - 1.0).abs() < 0.3,
                "{what}: {got} vs {want} ({fitted:?})"
            );
        }
        // The fitted model's expectations add up to what the simulated customers then did.
        let expected: f64 = histories
            .iter()
            .map(|h| fitted.expected_purchases(h, 90.0))
            .sum();
        let actual: f64 = data.iter().map(|(_, later)| later).sum();
        assert!(
            (expected / actual - 1.0).abs() < 0.08,
            "{expected} vs {actual}"
        );
        let active_expected: f64 = histories
            .iter()
            .map(|h| fitted.p_active_within(h, 90.0))
            .sum();
        let active_actual = data.iter().filter(|(_, later)| *later > 0.0).count() as f64;
        assert!(
            (active_expected / active_actual - 1.0).abs() < 0.08,
            "{active_expected} vs {active_actual}"
        );
        // And it ranks who comes back far better than chance.
        let scores: Vec<f64> = histories
            .iter()
            .map(|h| fitted.p_active_within(h, 90.0))
            .collect();
        let came_back: Vec<bool> = data.iter().map(|(_, later)| *later > 0.0).collect();
        assert!(crate::roc_auc(&scores, &came_back).unwrap() > 0.75);
    }

    #[test]
    fn the_closed_form_expectation_matches_numerical_integration() {
        // E[X(t) | alive] = ∫ (1 − (α'/(α' + p t))^r') / p · Beta(p; a, b') dp.
        for model in [
            BgNbd {
                r: 0.5,
                alpha: 15.0,
                a: 1.8,
                b: 4.0,
            },
            BgNbd {
                r: 2.0,
                alpha: 40.0,
                a: 0.7,
                b: 3.0,
            },
        ] {
            let h = History {
                frequency: 3.0,
                recency: 100.0,
                age: 150.0,
            };
            let t = 365.0;
            let (shape, rate, b) = (
                model.r + h.frequency,
                model.alpha + h.age,
                model.b + h.frequency,
            );
            let ln_beta = ln_gamma(model.a) + ln_gamma(b) - ln_gamma(model.a + b);
            // Substitute p = u^(1/a) so the Beta density's pole at 0 (a < 1) disappears.
            let steps = 200_000;
            let integrand = |u: f64| {
                let p = u.powf(1.0 / model.a);
                let per_p = if p == 0.0 {
                    shape * t / rate
                } else {
                    (1.0 - (rate / (rate + p * t)).powf(shape)) / p
                };
                per_p * (1.0 - p).powf(b - 1.0)
            };
            let h_step = 1.0 / steps as f64;
            let simpson: f64 = (0..=steps)
                .map(|i| {
                    let weight = if i == 0 || i == steps {
                        1.0
                    } else if i % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    weight * integrand(i as f64 * h_step)
                })
                .sum::<f64>()
                * h_step
                / 3.0;
            let numeric = simpson / model.a / ln_beta.exp() * model.p_alive(&h);
            let closed = model.expected_purchases(&h, t);
            assert!(
                (closed / numeric - 1.0).abs() < 1e-4,
                "{model:?}: {closed} vs {numeric}"
            );
        }
    }

    #[test]
    fn alive_and_active_behave_at_the_edges() {
        let model = BgNbd {
            r: 0.8,
            alpha: 20.0,
            a: 0.9,
            b: 6.0,
        };
        let once = History {
            frequency: 0.0,
            recency: 0.0,
            age: 200.0,
        };
        assert_eq!(model.p_alive(&once), 1.0);
        // The same orders, the last one long ago versus yesterday.
        let gone_quiet = History {
            frequency: 10.0,
            recency: 20.0,
            age: 300.0,
        };
        let just_ordered = History {
            frequency: 10.0,
            recency: 299.0,
            age: 300.0,
        };
        assert!(model.p_alive(&gone_quiet) < 0.05);
        assert!(model.p_alive(&just_ordered) > 0.9);
        assert!(
            model.p_active_within(&just_ordered, 90.0) > model.p_active_within(&gone_quiet, 90.0)
        );
        assert_eq!(model.expected_purchases(&just_ordered, 0.0), 0.0);
        // A longer window never expects fewer orders.
        assert!(
            model.expected_purchases(&just_ordered, 365.0)
                > model.expected_purchases(&just_ordered, 90.0)
        );
        let near_one = BgNbd { a: 1.0, ..model };
        let e = near_one.expected_purchases(&just_ordered, 90.0);
        assert!(e.is_finite() && e > 0.0);
    }

    #[test]
    fn the_fit_does_not_depend_on_the_order_of_the_rows() {
        let truth = BgNbd {
            r: 0.8,
            alpha: 20.0,
            a: 0.9,
            b: 6.0,
        };
        let mut histories: Vec<History> = simulate(truth, 500, 365.0, 0.0)
            .into_iter()
            .map(|(h, _)| h)
            .collect();
        let forward = BgNbd::fit(&histories).unwrap();
        histories.reverse();
        histories.swap(3, 250);
        assert_eq!(BgNbd::fit(&histories).unwrap(), forward);
    }

    #[test]
    fn bad_histories_are_named() {
        let bad = [
            History {
                frequency: 1.0,
                recency: 5.0,
                age: 10.0,
            },
            History {
                frequency: 1.0,
                recency: 12.0,
                age: 10.0,
            },
        ];
        let err = BgNbd::fit(&bad).unwrap_err();
        assert!(
            err.to_string().contains("customer 1 has recency = 12"),
            "{err}"
        );
        assert_eq!(
            BgNbd::fit(&[]).unwrap_err(),
            FitError::Empty { model: MODEL }
        );
    }
}
