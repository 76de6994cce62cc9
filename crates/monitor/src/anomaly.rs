//! Is a value out of line with its own history? A robust z-score: how many (scaled) median
//! absolute deviations the value lies from the history's median. Median and MAD ignore the odd
//! outlier in the history itself, which a mean and standard deviation do not (one Black Friday
//! in the history would hide the next real drop).

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::config::{Direction, Scale};

/// 1 / Φ⁻¹(3/4): the MAD of a normal sample times this estimates its standard deviation.
const MAD_TO_SIGMA: f64 = 1.4826;
/// √(π/2): the same for the mean absolute deviation, used when over half the history is equal.
const MEAN_AD_TO_SIGMA: f64 = 1.2533;

/// How a value compares with its history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub value: f64,
    /// The history's median, on the value's own scale (not the logarithm).
    pub median: f64,
    /// Robust z: positive above the median, negative below.
    pub z: f64,
    /// Earlier values it was compared with.
    pub history: usize,
}

fn transform(scale: Scale, v: f64) -> f64 {
    match scale {
        Scale::Linear => v,
        Scale::Log => v.max(0.0).ln_1p(),
    }
}

/// The median of values already in order (not empty).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The median of `values` in any order; 0 when there are none.
pub fn median_of(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    median(&sorted(values.iter().copied()))
}

fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The robust z of `value` against `history` (None when the history is empty or not finite).
///
/// The spread is 1.4826 × MAD; when over half the history is one value (MAD 0) it is the mean
/// absolute deviation instead, and when all of it is one value, 1% of that value (at least
/// 1e-9): a count that never moved and then moves is far out of line, by how far it moved.
pub fn robust_z(history: &[f64], value: f64, scale: Scale) -> Option<Score> {
    if history.is_empty() || !value.is_finite() || history.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let xs = sorted(history.iter().map(|v| transform(scale, *v)));
    let center = median(&xs);
    let deviations = sorted(xs.iter().map(|x| (x - center).abs()));
    let mad = median(&deviations);
    let mean_ad = deviations.iter().sum::<f64>() / deviations.len() as f64;
    let spread = if mad > 0.0 {
        MAD_TO_SIGMA * mad
    } else if mean_ad > 0.0 {
        MEAN_AD_TO_SIGMA * mean_ad
    } else {
        (center.abs() * 0.01).max(1e-9)
    };
    let raw_median = median_of(history);
    Some(Score {
        value,
        median: raw_median,
        z: (transform(scale, value) - center) / spread,
        history: history.len(),
    })
}

/// Whether `score` is an anomaly at `threshold` for a metric that watches `direction`.
pub fn is_anomaly(score: &Score, threshold: f64, direction: Direction) -> bool {
    match direction {
        Direction::Both => score.z.abs() > threshold,
        Direction::Drop => score.z < -threshold,
        Direction::Rise => score.z > threshold,
    }
}

/// A daily series judged on its latest complete day: the last day before `today` (a day still
/// going on is never judged), against the same weekday of up to `weeks` weeks before it.
/// Returns the day, its value and the history found (days missing from the series are left
/// out, not counted as zero).
pub fn latest_day_and_its_weekdays(
    series: &[(NaiveDate, f64)],
    today: NaiveDate,
    weeks: usize,
) -> Option<(NaiveDate, f64, Vec<f64>)> {
    let (day, value) = series
        .iter()
        .filter(|(d, _)| *d < today)
        .max_by_key(|(d, _)| *d)
        .copied()?;
    let history = (1..=weeks as u64)
        .filter_map(|k| day.checked_sub_days(Days::new(7 * k)))
        .filter_map(|d| series.iter().find(|(s, _)| *s == d).map(|(_, v)| *v))
        .collect();
    Some((day, value, history))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn z_is_the_distance_in_scaled_mads() {
        // median 10, deviations 0,1,1,2,2 → MAD 1 → spread 1.4826
        let score = robust_z(&[8.0, 9.0, 10.0, 11.0, 12.0], 16.0, Scale::Linear).expect("z");
        assert_eq!(score.median, 10.0);
        assert!((score.z - 6.0 / 1.4826).abs() < 1e-9, "{score:?}");
        assert!(is_anomaly(&score, 3.5, Direction::Both));
        assert!(is_anomaly(&score, 3.5, Direction::Rise));
        assert!(!is_anomaly(&score, 3.5, Direction::Drop));
        assert!(!is_anomaly(&score, 4.5, Direction::Both));
    }

    #[test]
    fn one_outlier_in_the_history_does_not_hide_the_next() {
        let history = [100.0, 104.0, 98.0, 5000.0, 101.0, 99.0, 103.0, 97.0];
        let drop = robust_z(&history, 40.0, Scale::Linear).expect("z");
        assert!(drop.z < -10.0, "{drop:?}");
        let normal = robust_z(&history, 102.0, Scale::Linear).expect("z");
        assert!(normal.z.abs() < 1.0, "{normal:?}");
    }

    #[test]
    fn a_constant_history_makes_any_move_stand_out_by_its_size() {
        let same = [500.0; 6];
        assert_eq!(robust_z(&same, 500.0, Scale::Linear).expect("z").z, 0.0);
        let z = robust_z(&same, 520.0, Scale::Linear).expect("z").z;
        assert!((z - 4.0).abs() < 1e-9, "{z}");
        // Mostly constant: the mean absolute deviation steps in.
        let mostly = [500.0, 500.0, 500.0, 500.0, 510.0];
        let z = robust_z(&mostly, 600.0, Scale::Linear).expect("z").z;
        assert!((z - 100.0 / (1.2533 * 2.0)).abs() < 1e-6, "{z}");
        assert!(robust_z(&[], 1.0, Scale::Linear).is_none());
    }

    #[test]
    fn on_a_log_scale_a_fall_by_a_multiple_is_what_counts() {
        // Daily revenue swinging between 60k and 300k: a day at 20k is not far in linear terms
        // (the spread is wide) but is far below on the log scale.
        let history = [
            66_000.0, 146_000.0, 141_000.0, 271_000.0, 67_000.0, 210_000.0,
        ];
        let linear = robust_z(&history, 9_000.0, Scale::Linear).expect("z");
        let log = robust_z(&history, 9_000.0, Scale::Log).expect("z");
        assert!(linear.z > -3.5, "{linear:?}");
        assert!(log.z < -3.5, "{log:?}");
        assert_eq!(log.median, 143_500.0);
    }

    #[test]
    fn the_latest_complete_day_is_compared_with_its_weekdays() {
        let mut series: Vec<(NaiveDate, f64)> = (0..60)
            .map(|i| {
                let d = day("2024-05-01") + Days::new(i);
                (d, i as f64)
            })
            .collect();
        series.retain(|(d, _)| *d != day("2024-06-14"));
        // 2024-06-29 is today: 06-28 (a Friday) is the last complete day.
        let (latest, value, history) =
            latest_day_and_its_weekdays(&series, day("2024-06-29"), 8).expect("a day");
        assert_eq!(latest, day("2024-06-28"));
        assert_eq!(value, 58.0);
        // Fridays 06-21, (06-14 missing), 06-07, 05-31, 05-24, 05-17, 05-10, 05-03.
        assert_eq!(history, vec![51.0, 37.0, 30.0, 23.0, 16.0, 9.0, 2.0]);
        assert!(latest_day_and_its_weekdays(&series, day("2024-05-01"), 8).is_none());
    }
}
