//! Nelder–Mead simplex minimisation: the likelihoods here have 3–4 parameters and cheap,
//! smooth objectives, so a derivative-free method is simple and robust.

/// Fits positive parameters: minimises `objective` over their logarithms from `start` and
/// returns the parameters themselves, or `Diverged` when one is not a finite positive number.
pub(crate) fn fit_on_logs(
    objective: &dyn Fn(&[f64]) -> f64,
    start: &[f64],
    model: &'static str,
) -> Result<Vec<f64>, crate::FitError> {
    let params: Vec<f64> = minimize(objective, start, 1.0)
        .iter()
        .map(|t| t.exp())
        .collect();
    if params.iter().all(|p| p.is_finite() && *p > 0.0) {
        Ok(params)
    } else {
        Err(crate::FitError::Diverged { model })
    }
}

/// Minimises `f` from `start`, taking first steps of `step` along each axis. Restarts once from
/// the best point found, a cheap guard against a simplex that collapsed early.
pub(crate) fn minimize(f: &dyn Fn(&[f64]) -> f64, start: &[f64], step: f64) -> Vec<f64> {
    let first = nelder_mead(f, start, step, 4000);
    nelder_mead(f, &first, step / 4.0, 4000)
}

fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, start: &[f64], step: f64, max_iter: usize) -> Vec<f64> {
    let n = start.len();
    // NaN or infinite values count as worse than anything finite.
    let eval = |x: &[f64]| {
        let v = f(x);
        if v.is_finite() { v } else { f64::MAX }
    };
    let mut simplex: Vec<(Vec<f64>, f64)> = (0..=n)
        .map(|i| {
            let mut x = start.to_vec();
            if i > 0 {
                x[i - 1] += step;
            }
            let v = eval(&x);
            (x, v)
        })
        .collect();
    for _ in 0..max_iter {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[n].1);
        if (worst - best).abs() <= 1e-12 * (1.0 + best.abs()) {
            break;
        }
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|(x, _)| x[j]).sum::<f64>() / n as f64)
            .collect();
        let towards = |coef: f64| -> Vec<f64> {
            (0..n)
                .map(|j| centroid[j] + coef * (simplex[n].0[j] - centroid[j]))
                .collect()
        };
        let reflected = towards(-1.0);
        let fr = eval(&reflected);
        if fr < simplex[0].1 {
            let expanded = towards(-2.0);
            let fe = eval(&expanded);
            simplex[n] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (reflected, fr);
        } else {
            let contracted = if fr < simplex[n].1 {
                towards(-0.5)
            } else {
                towards(0.5)
            };
            let fc = eval(&contracted);
            if fc < simplex[n].1.min(fr) {
                simplex[n] = (contracted, fc);
            } else {
                let best_point = simplex[0].0.clone();
                for (x, v) in simplex.iter_mut().skip(1) {
                    for j in 0..n {
                        x[j] = best_point[j] + 0.5 * (x[j] - best_point[j]);
                    }
                    *v = eval(x);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_the_rosenbrock_valley() {
        let rosenbrock = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let x = minimize(&rosenbrock, &[-1.2, 1.0], 0.5);
        assert!(
            (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
            "{x:?}"
        );
    }

    #[test]
    fn treats_non_finite_values_as_walls() {
        // Undefined for x < 0; the minimum is at x = 2.
        let f = |x: &[f64]| {
            if x[0] < 0.0 {
                f64::NAN
            } else {
                (x[0] - 2.0).powi(2)
            }
        };
        let x = minimize(&f, &[0.5], 1.0);
        assert!((x[0] - 2.0).abs() < 1e-5, "{x:?}");
    }
}
