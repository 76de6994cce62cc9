//! The landing-file contract between whoever writes order data (the generator, the order desk)
//! and whoever loads it (`orderlake ingest`, the OMS project's bronze sources).
//!
//! - A file's name says its entity: `orders_0003.ndjson` holds `orders` rows and loads into
//!   `bronze.orders` ([`entity_of`], [`numbered_file`]).
//! - Each entity's rows have one shape, a record type here. Amounts are [`Money`] (text with two
//!   decimals, so no float ever touches a price); times are text, `YYYY-MM-DD HH:MM:SS[.ffffff]`.
//!
//! Fields only one writer has are optional and left out of JSON when empty (the desk has no
//! payment method; the generator has no running balance), so a writer never invents a value.

use serde::{Serialize, Serializer};

/// The extensions ingest reads.
pub const EXTENSIONS: &[&str] = &["csv", "ndjson", "jsonl", "json", "parquet"];

/// The entity a landing file belongs to: its stem without a trailing `_<digits>`, as a clean
/// lower-case name. `None` for files ingest does not read.
pub fn entity_of(file_name: &str) -> Option<String> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    if !EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) {
        return None;
    }
    let base = match stem.rsplit_once('_') {
        Some((head, tail)) if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) => head,
        _ => stem,
    };
    let clean = clean_name(base);
    (!clean.is_empty()).then_some(clean)
}

/// A name made safe as a table or identifier: ASCII letters and digits lower-cased, anything
/// else `_`.
pub fn clean_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The name of the `sequence`-th file of an entity, zero-padded to `width` digits so names sort
/// in order: `numbered_file("orders", 3, 4, "ndjson")` is `orders_0003.ndjson`.
pub fn numbered_file(entity: &str, sequence: u64, width: usize, extension: &str) -> String {
    format!("{entity}_{sequence:0width$}.{extension}")
}

/// An amount in cents, written as text with two decimals (`-1234` → `"-12.34"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Money(pub i64);

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cents = self.0;
        let sign = if cents < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `territories`: a sales territory and its manager.
#[derive(Debug, Clone, Serialize)]
pub struct Territory {
    pub territory_id: i64,
    pub territory_name: String,
    pub manager_first_name: String,
    pub manager_last_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `locations`: where customers and warehouses are.
#[derive(Debug, Clone, Serialize)]
pub struct Location {
    pub location_id: i64,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub state: String,
    pub city: String,
    pub territory_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `customer_types`: Retail, Wholesale, Distributor, ….
#[derive(Debug, Clone, Serialize)]
pub struct CustomerType {
    pub customer_type_id: i64,
    pub customer_type: String,
}

/// `warehouses`.
#[derive(Debug, Clone, Serialize)]
pub struct Warehouse {
    pub warehouse_id: i64,
    pub warehouse_name: String,
    pub location_id: Option<i64>,
}

/// `carriers`.
#[derive(Debug, Clone, Serialize)]
pub struct Carrier {
    pub carrier_id: i64,
    pub carrier_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<i64>,
}

/// `customers`: one version of a customer.
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub customer_id: i64,
    pub customer_name: String,
    pub customer_type_id: i64,
    pub email: Option<String>,
    pub location_id: i64,
    pub registered_at: String,
    pub credit_limit: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    pub updated_at: String,
}

/// `products`: one version of a product, with its price and cost from `updated_at` on.
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub product_id: i64,
    pub description: String,
    pub brand: String,
    pub category: String,
    pub unit_price: Money,
    pub unit_cost: Money,
    pub updated_at: String,
}

/// `orders`: one version of an order header (the newest `updated_at` wins in silver).
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub order_id: i64,
    pub customer_id: i64,
    pub location_id: i64,
    /// Null in messy data; silver quarantines or defaults it.
    pub channel: Option<String>,
    /// `erp` for the generated history, `desk` for the order desk.
    pub source_system: String,
    pub ordered_at: String,
    pub status: String,
    pub hold_reason: Option<String>,
    pub cancel_reason: Option<String>,
    pub billed_at: Option<String>,
    pub updated_at: String,
}

/// `order_lines`: one version of an order line.
#[derive(Debug, Clone, Serialize)]
pub struct OrderLine {
    pub order_id: i64,
    pub line_no: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub unit_price: Money,
    pub discount_amount: Money,
    pub updated_at: String,
}

/// `payments`: money received from a customer, for an order or on account.
#[derive(Debug, Clone, Serialize)]
pub struct Payment {
    pub payment_id: i64,
    pub customer_id: i64,
    pub order_id: Option<i64>,
    pub amount: Money,
    pub paid_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// `shipments`: an order's shipment; `delivered_at` is null until it arrives.
#[derive(Debug, Clone, Serialize)]
pub struct Shipment {
    pub shipment_id: i64,
    pub order_id: i64,
    pub carrier_id: i64,
    pub warehouse_id: Option<i64>,
    pub shipped_at: String,
    pub promised_at: String,
    pub delivered_at: Option<String>,
    pub updated_at: String,
}

/// `returns`: units of one order line sent back.
#[derive(Debug, Clone, Serialize)]
pub struct Return {
    pub return_id: i64,
    pub order_id: i64,
    pub line_no: i64,
    pub quantity: i64,
    pub reason: String,
    pub returned_at: String,
}

/// `ledger`: one entry of a customer's account. `amount` is positive; `entry_type` says the
/// direction (invoice debits; payment, refund, rebate, write-off credit).
#[derive(Debug, Clone, Serialize)]
pub struct LedgerEntry {
    pub entry_id: i64,
    pub customer_id: i64,
    pub entry_type: String,
    pub amount: Money,
    pub value_date: String,
    pub order_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_id: Option<i64>,
    /// The month a rebate is for (`YYYY-MM-01`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_after: Option<Money>,
}

impl LedgerEntry {
    /// An entry that refers to nothing yet; set the references it has (`order_id`, …).
    pub fn new(
        entry_id: i64,
        customer_id: i64,
        entry_type: &str,
        amount: Money,
        value_date: String,
    ) -> Self {
        LedgerEntry {
            entry_id,
            customer_id,
            entry_type: entry_type.to_string(),
            amount,
            value_date,
            order_id: None,
            payment_id: None,
            return_id: None,
            month: None,
            balance_after: None,
        }
    }
}

/// `inventory_movements`: units into (positive) or out of (negative) stock.
#[derive(Debug, Clone, Serialize)]
pub struct InventoryMovement {
    pub movement_id: i64,
    pub product_id: i64,
    pub warehouse_id: Option<i64>,
    /// `receipt`, `sale`, `return`, `adjustment`.
    pub movement_type: String,
    pub quantity: i64,
    pub moved_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<i64>,
}

/// `sales_targets`: what a location should sell in a month.
#[derive(Debug, Clone, Serialize)]
pub struct SalesTarget {
    pub location_id: i64,
    /// The first day of the month (`YYYY-MM-01`).
    pub month: String,
    pub target_amount: Money,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_from_file_names() {
        assert_eq!(entity_of("orders_0003.ndjson").as_deref(), Some("orders"));
        assert_eq!(
            entity_of("order_lines_0001.parquet").as_deref(),
            Some("order_lines")
        );
        assert_eq!(entity_of("customers.csv").as_deref(), Some("customers"));
        assert_eq!(
            entity_of("sales_targets.csv").as_deref(),
            Some("sales_targets")
        );
        assert_eq!(
            entity_of("Order-Lines_12.JSONL").as_deref(),
            Some("order_lines")
        );
        assert_eq!(entity_of("notes.txt"), None);
        assert_eq!(
            entity_of(&numbered_file("orders", 42, 12, "ndjson")).as_deref(),
            Some("orders")
        );
        assert_eq!(
            numbered_file("orders", 3, 4, "ndjson"),
            "orders_0003.ndjson"
        );
    }

    #[test]
    fn money_is_text_with_two_decimals() {
        assert_eq!(Money(1234).to_string(), "12.34");
        assert_eq!(Money(-5).to_string(), "-0.05");
        assert_eq!(Money(100).to_string(), "1.00");
        assert_eq!(serde_json::to_string(&Money(100)).unwrap(), "\"1.00\"");
    }

    #[test]
    fn optional_fields_only_one_writer_has_are_left_out() {
        let entry = LedgerEntry {
            entry_id: 1,
            customer_id: 2,
            entry_type: "invoice".into(),
            amount: Money(1075),
            value_date: "2024-01-02".into(),
            order_id: Some(3),
            payment_id: None,
            return_id: None,
            month: None,
            balance_after: None,
        };
        assert_eq!(
            serde_json::to_string(&entry).unwrap(),
            r#"{"entry_id":1,"customer_id":2,"entry_type":"invoice","amount":"10.75","value_date":"2024-01-02","order_id":3}"#
        );
    }
}
