//! Source files that an order business produces, realistic and deterministic for a seed.
//!
//! Master data arrives as CSV, events as NDJSON, high-volume lines as Parquet — the mix real
//! sources have. Orders follow weekday, hour and seasonal patterns; prices and costs change over
//! time; shipments are late at a realistic rate; returns never exceed what was sold; stock never
//! goes below zero; the ledger agrees with orders, payments, refunds and rebates.
//!
//! With `messy > 0`, a share of rows is duplicated, updated late (an older version arriving
//! after a newer one), nulled, or malformed (bad dates, negative quantities, unknown products,
//! broken CSV quoting, truncated JSON) — each kind counted in the [`Summary`].
//!
//! Writing streams: memory stays bounded by the number of customers and products, not orders.

mod buyers;
mod calendar;
mod history;
mod master;
mod vocabulary;
mod writers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate, NaiveDateTime, Timelike};
use rand::SeedableRng;
use rand::rngs::StdRng;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Write(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = GenerateError> = std::result::Result<T, E>;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    pub out: PathBuf,
    pub orders: u64,
    pub days: u32,
    pub seed: u64,
    /// Share of rows made messy (0 = clean).
    pub messy: f64,
    /// The first day of orders.
    pub start: NaiveDate,
    /// VAT rate of invoices and refunds.
    pub vat_rate: f64,
}

impl Config {
    pub fn new(out: impl Into<PathBuf>, orders: u64) -> Self {
        Config {
            out: out.into(),
            orders,
            days: 180,
            seed: 42,
            messy: 0.0,
            start: NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date"),
            vat_rate: 0.075,
        }
    }

    /// The day after the last generated day: the natural `as_of_date`.
    pub fn as_of_date(&self) -> NaiveDate {
        self.start + Duration::days(i64::from(self.days))
    }

    /// The VAT on `net_cents`, rounded once, half away from zero, in integer arithmetic (as an
    /// invoice is: a float would round some half cents down).
    pub fn vat_cents(&self, net_cents: i64) -> i64 {
        let ppm = (self.vat_rate * 1_000_000.0).round() as i128;
        let x = i128::from(net_cents) * ppm;
        let q = (x.abs() + 500_000) / 1_000_000;
        (if x < 0 { -q } else { q }) as i64
    }

    /// The share of messy rows, as a probability.
    fn messy(&self) -> f64 {
        self.messy.clamp(0.0, 1.0)
    }
}

/// What was written, with the mess injected, so tests can account for every row.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub files: BTreeMap<String, u64>,
    pub orders: u64,
    pub order_lines: u64,
    pub customers: u64,
    pub products: u64,
    pub duplicates: u64,
    pub late_updates: u64,
    pub malformed: BTreeMap<String, u64>,
    pub as_of_date: String,
}

impl Summary {
    fn malformed(&mut self, kind: &str) {
        *self.malformed.entry(kind.to_string()).or_default() += 1;
    }

    /// Records a written file and its rows.
    fn file(&mut self, (name, rows): (String, u64)) {
        self.files.insert(name, rows);
    }
}

pub fn ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Rounds `x` cents half away from zero.
fn round_cents(x: f64) -> i64 {
    x.round() as i64
}

/// Generates every source file into `config.out`. `progress` is told the orders done so far.
///
/// One random stream, drawn in a fixed order (master data, order times, each order, the
/// closing stock counts, targets), so a seed always writes the same files.
pub fn generate(config: &Config, progress: &dyn Fn(u64)) -> Result<Summary> {
    if config.orders == 0 {
        return Err(GenerateError::Invalid("--orders must be at least 1".into()));
    }
    if config.days == 0 {
        return Err(GenerateError::Invalid("--days must be at least 1".into()));
    }
    std::fs::create_dir_all(&config.out).map_err(|e| GenerateError::Io {
        path: config.out.clone(),
        source: e,
    })?;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut summary = Summary {
        as_of_date: config.as_of_date().to_string(),
        ..Default::default()
    };
    let start = config.start.and_hms_opt(0, 0, 0).expect("midnight");

    let sites = master::write_sites(&config.out, start, &mut summary)?;
    let customers = master::write_customers(config, &mut rng, &sites, start, &mut summary)?;
    let products = master::write_products(config, &mut rng, start, &mut summary)?;
    let times = calendar::order_times(config, &mut rng);

    let mut history = history::History::create(config, &mut summary)?;
    history.opening_stock(&mut rng, &products, sites.warehouses(), start)?;
    let mut buyers = buyers::Buyers::new(customers);
    for (index, ordered_at) in times.iter().copied().enumerate() {
        let order_id = index as u64 + 1;
        history.order(
            &mut rng,
            order_id,
            ordered_at,
            &mut buyers,
            &products,
            &sites,
        )?;
        progress(order_id);
    }
    let sold = std::mem::take(&mut history.location_month);
    let files = history.finish(&mut rng)?;
    master::write_targets(config, &mut rng, &sites, &sold, &mut summary)?;
    summary.files.extend(files);

    let summary_path = config.out.join("_generated.json");
    std::fs::write(
        &summary_path,
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    )
    .map_err(|e| GenerateError::Io {
        path: summary_path,
        source: e,
    })?;
    Ok(summary)
}

/// The hour of a timestamp (for tests of the hourly pattern).
pub fn hour_of(t: NaiveDateTime) -> u32 {
    t.hour()
}

/// Reads the summary written beside the files.
pub fn read_summary(dir: &Path) -> Option<Summary> {
    let text = std::fs::read_to_string(dir.join("_generated.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(Summary {
        files: serde_json::from_value(v["files"].clone()).ok()?,
        orders: v["orders"].as_u64()?,
        order_lines: v["order_lines"].as_u64()?,
        customers: v["customers"].as_u64()?,
        products: v["products"].as_u64()?,
        duplicates: v["duplicates"].as_u64()?,
        late_updates: v["late_updates"].as_u64()?,
        malformed: serde_json::from_value(v["malformed"].clone()).ok()?,
        as_of_date: v["as_of_date"].as_str()?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_files() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let mut config = Config::new(a.path(), 300);
        config.messy = 0.05;
        let sa = generate(&config, &|_| {}).unwrap();
        config.out = b.path().to_path_buf();
        let sb = generate(&config, &|_| {}).unwrap();
        assert_eq!(sa.files, sb.files);
        for name in ["orders_0001.ndjson", "customers.csv", "ledger.ndjson"] {
            assert_eq!(
                std::fs::read(a.path().join(name)).unwrap(),
                std::fs::read(b.path().join(name)).unwrap(),
                "{name}"
            );
        }
        assert!(sa.duplicates > 0);
        assert_eq!(sa.orders, 300);
    }

    #[test]
    fn vat_rounds_half_cents_away_from_zero_exactly() {
        let config = Config::new("unused", 1);
        // 20 × 0.075 = 1.5 cents exactly; a float gives 1.4999… and rounds it down.
        assert_eq!(config.vat_cents(20), 2);
        assert_eq!(config.vat_cents(-20), -2);
        assert_eq!(config.vat_cents(10_000), 750);
        assert_eq!(config.vat_cents(19), 1);
    }
}
