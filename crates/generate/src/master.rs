//! Master data, as CSV: territories, locations, customer types, warehouses, carriers, customers
//! and products (with their price and cost versions), and monthly sales targets.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use orderlake_landing::{self as landing, Money};
use rand::Rng;
use rand::rngs::StdRng;

use crate::buyers::{Lifecycle, lifecycles};
use crate::vocabulary::{CARRIERS, CATEGORIES, MANAGERS, REGIONS};
use crate::writers::CsvOut;
use crate::{Config, Result, Summary, ts};

/// Where the business is: its locations, the region of each, and one warehouse per region.
pub(crate) struct Sites {
    pub location_ids: Vec<u64>,
    /// Location → index of its region in [`REGIONS`].
    pub location_region: BTreeMap<u64, usize>,
    /// Region → the location of its warehouse (warehouse id = region index + 1).
    pub region_first_location: BTreeMap<usize, u64>,
}

impl Sites {
    /// The warehouse that serves a location.
    pub fn warehouse_of(&self, location_id: u64) -> u64 {
        (*self.location_region.get(&location_id).unwrap_or(&0) as u64) + 1
    }

    pub fn warehouses(&self) -> u64 {
        self.region_first_location.len() as u64
    }
}

/// Territories, locations, customer types, warehouses and carriers.
pub(crate) fn write_sites(
    out: &Path,
    start: NaiveDateTime,
    summary: &mut Summary,
) -> Result<Sites> {
    let mut territories = CsvOut::create(out, "territories.csv")?;
    let mut locations = CsvOut::create(out, "locations.csv")?;
    let mut location_ids = Vec::new();
    let mut location_region = BTreeMap::new();
    let mut territory_id = 0i64;
    let mut location_id = 0i64;
    let since = Some(ts(start - Duration::days(400)));
    for (r, (region, country, states)) in REGIONS.iter().enumerate() {
        for (s, (state, cities)) in states.iter().enumerate() {
            territory_id += 1;
            let (first, last) = MANAGERS[(r * 2 + s) % MANAGERS.len()];
            territories.record(&landing::Territory {
                territory_id,
                territory_name: format!("{region} {state}"),
                manager_first_name: first.into(),
                manager_last_name: last.into(),
                updated_at: since.clone(),
            })?;
            for city in *cities {
                location_id += 1;
                locations.record(&landing::Location {
                    location_id,
                    region: region.to_string(),
                    country: Some(country.to_string()),
                    state: state.to_string(),
                    city: city.to_string(),
                    territory_id,
                    updated_at: since.clone(),
                })?;
                location_ids.push(location_id as u64);
                location_region.insert(location_id as u64, r);
            }
        }
    }
    summary.file(territories.finish()?);
    summary.file(locations.finish()?);

    let mut types = CsvOut::create(out, "customer_types.csv")?;
    for (i, t) in ["Retail", "Wholesale", "Distributor"].iter().enumerate() {
        types.record(&landing::CustomerType {
            customer_type_id: i as i64 + 1,
            customer_type: t.to_string(),
        })?;
    }
    summary.file(types.finish()?);

    let mut region_first_location = BTreeMap::new();
    for (loc, region) in &location_region {
        region_first_location.entry(*region).or_insert(*loc);
    }
    let mut warehouses = CsvOut::create(out, "warehouses.csv")?;
    for (region, loc) in &region_first_location {
        warehouses.record(&landing::Warehouse {
            warehouse_id: *region as i64 + 1,
            warehouse_name: format!("{} DC", REGIONS[*region].0),
            location_id: Some(*loc as i64),
        })?;
    }
    summary.file(warehouses.finish()?);
    let mut carriers = CsvOut::create(out, "carriers.csv")?;
    for (i, c) in CARRIERS.iter().enumerate() {
        carriers.record(&landing::Carrier {
            carrier_id: i as i64 + 1,
            carrier_name: c.to_string(),
            location_id: None,
        })?;
    }
    summary.file(carriers.finish()?);
    Ok(Sites {
        location_ids,
        location_region,
        region_first_location,
    })
}

/// A customer as the order simulation needs it.
pub(crate) struct Customer {
    pub id: u64,
    pub type_id: u64,
    pub location_id: u64,
    pub life: Lifecycle,
}

/// Customers: the most active are distributors and wholesalers (index order = activity).
pub(crate) fn write_customers(
    config: &Config,
    rng: &mut StdRng,
    sites: &Sites,
    start: NaiveDateTime,
    summary: &mut Summary,
) -> Result<Vec<Customer>> {
    let messy = config.messy();
    let n_customers = (config.orders / 25).clamp(40, 200_000);
    let lives = lifecycles(config.seed, n_customers, start, config.days);
    let mut out = CsvOut::create(&config.out, "customers.csv")?;
    let mut customers = Vec::new();
    let names = [
        "Ade", "Bisi", "Chika", "Dayo", "Efe", "Femi", "Gbenga", "Halima", "Ife", "Jide", "Kemi",
        "Lola",
    ];
    let suffixes = [
        "Stores",
        "Mart",
        "Traders",
        "Supplies",
        "Ventures",
        "& Sons",
        "Enterprises",
        "Retail",
    ];
    for i in 0..n_customers {
        let id = i + 1;
        let type_id = if i % 12 == 0 {
            3
        } else if i % 3 == 0 {
            2
        } else {
            1
        };
        let location = sites.location_ids[rng.random_range(0..sites.location_ids.len())];
        let name = format!(
            "{} {} {}",
            names[(i as usize) % names.len()],
            suffixes[(i as usize / names.len()) % suffixes.len()],
            id
        );
        let limit_cents: i64 = match type_id {
            3 => rng.random_range(1_000_000..4_000_000) * 100,
            2 => rng.random_range(200_000..800_000) * 100,
            _ => rng.random_range(2_000..10_000) * 100,
        };
        let life = lives[i as usize];
        let before_the_period = start - Duration::days(rng.random_range(30..700))
            + Duration::minutes(rng.random_range(0..1440));
        // Customers who join during the period register shortly before their first order.
        let registered = if life.joins_at > start {
            life.joins_at - Duration::hours(2)
        } else {
            before_the_period
        };
        let email = (!rng.random_bool(messy)).then(|| format!("buyer{id}@example.com"));
        out.record(&landing::Customer {
            customer_id: id as i64,
            customer_name: name,
            customer_type_id: type_id as i64,
            email,
            location_id: location as i64,
            registered_at: ts(registered),
            credit_limit: Money(limit_cents),
            active: None,
            updated_at: ts(registered),
        })?;
        customers.push(Customer {
            id,
            type_id,
            location_id: location,
            life,
        });
    }
    if messy > 0.0 {
        // Broken quoting: an unterminated quoted field.
        out.raw_line(&format!(
            "{},\"Broken \"\"Quote Co,1,x@example.com,1,{},100.00,{}",
            n_customers + 1,
            ts(start),
            ts(start)
        ))?;
        summary.malformed("customers: broken CSV quoting");
    }
    summary.customers = n_customers;
    summary.file(out.finish()?);
    Ok(customers)
}

/// A price and cost valid from a moment on.
pub(crate) struct ProductVersion {
    pub from: NaiveDateTime,
    pub price_cents: i64,
    pub cost_cents: i64,
}

pub(crate) struct Product {
    pub id: u64,
    pub versions: Vec<ProductVersion>,
}

impl Product {
    /// The version in force at `t`.
    pub fn at(&self, t: NaiveDateTime) -> &ProductVersion {
        self.versions
            .iter()
            .rev()
            .find(|v| v.from <= t)
            .unwrap_or(&self.versions[0])
    }
}

/// Products, each with price/cost versions over the period.
pub(crate) fn write_products(
    config: &Config,
    rng: &mut StdRng,
    start: NaiveDateTime,
    summary: &mut Summary,
) -> Result<Vec<Product>> {
    let n_products = (config.orders / 40).clamp(25, 2_000);
    let mut out = CsvOut::create(&config.out, "products.csv")?;
    let mut products = Vec::new();
    for i in 0..n_products {
        let id = i + 1;
        let (category, brands) = CATEGORIES[(i as usize) % CATEGORIES.len()];
        let brand = brands[rng.random_range(0..brands.len())];
        let description = format!("{brand} {category} item {id}");
        let mut price = rng.random_range(150..20_000i64);
        let mut cost = price * rng.random_range(40..75i64) / 100;
        let mut versions = vec![ProductVersion {
            from: start - Duration::days(365),
            price_cents: price,
            cost_cents: cost,
        }];
        for _ in 0..rng.random_range(0..3u32) {
            let from = start
                + Duration::days(rng.random_range(0..i64::from(config.days)))
                + Duration::hours(rng.random_range(0..24));
            price = price * rng.random_range(92..115i64) / 100;
            cost = (cost * rng.random_range(95..110i64) / 100).min(price);
            versions.push(ProductVersion {
                from,
                price_cents: price.max(1),
                cost_cents: cost.max(1),
            });
        }
        versions.sort_by_key(|v| v.from);
        for v in &versions {
            out.record(&landing::Product {
                product_id: id as i64,
                description: description.clone(),
                brand: brand.to_string(),
                category: category.to_string(),
                unit_price: Money(v.price_cents),
                unit_cost: Money(v.cost_cents),
                updated_at: ts(v.from),
            })?;
        }
        products.push(Product { id, versions });
    }
    summary.products = n_products;
    summary.file(out.finish()?);
    Ok(products)
}

/// Targets per location and month, around what was sold (`sold`: net cents by location and month).
pub(crate) fn write_targets(
    config: &Config,
    rng: &mut StdRng,
    sites: &Sites,
    sold: &BTreeMap<(u64, NaiveDate), i64>,
    summary: &mut Summary,
) -> Result<()> {
    use chrono::Datelike;
    let mut targets = CsvOut::create(&config.out, "sales_targets.csv")?;
    let mut month = config.start.with_day(1).unwrap_or(config.start);
    while month < config.as_of_date() {
        for loc in &sites.location_ids {
            let actual = sold.get(&(*loc, month)).copied().unwrap_or(0);
            let target = ((actual as f64 * rng.random_range(0.85..1.2) / 100.0 / 100.0).round()
                * 100.0)
                .max(100.0) as i64;
            targets.record(&landing::SalesTarget {
                location_id: *loc as i64,
                month: month.to_string(),
                target_amount: Money(target * 100),
            })?;
        }
        month = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(config.as_of_date());
    }
    summary.file(targets.finish()?);
    Ok(())
}
