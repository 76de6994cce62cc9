//! When orders are placed: more on Saturdays and Fridays, fewer on Sundays, a growing trend over
//! the period, a yearly season, and a morning and an evening peak within the day.

use chrono::{Datelike, Duration, NaiveDateTime, Weekday};
use rand::Rng;
use rand::rngs::StdRng;

use crate::Config;

/// `config.orders` order times over the period, sorted (so stock is tracked in time order).
pub(crate) fn order_times(config: &Config, rng: &mut StdRng) -> Vec<NaiveDateTime> {
    let mut times: Vec<NaiveDateTime> = Vec::with_capacity(config.orders as usize);
    while (times.len() as u64) < config.orders {
        let day = rng.random_range(0..i64::from(config.days));
        let date = config.start + Duration::days(day);
        let weekday = match date.weekday() {
            Weekday::Sat => 1.25,
            Weekday::Sun => 0.6,
            Weekday::Fri => 1.1,
            _ => 1.0,
        };
        let trend = 0.7 + 0.6 * (day as f64 / f64::from(config.days));
        let season =
            1.0 + 0.25 * ((date.month() as f64 - 1.0) / 12.0 * std::f64::consts::TAU).cos();
        if rng.random::<f64>() * 2.2 > weekday * trend * season {
            continue;
        }
        let hour = loop {
            let h: u32 = rng.random_range(0..24);
            let w = match h {
                0..=5 => 0.05,
                6..=8 => 0.5,
                9..=12 => 1.0,
                13..=16 => 0.7,
                17..=21 => 0.95,
                _ => 0.3,
            };
            if rng.random::<f64>() < w {
                break h;
            }
        };
        let t = date
            .and_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60))
            .expect("valid time");
        times.push(t);
    }
    times.sort();
    times
}
