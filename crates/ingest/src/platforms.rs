//! The e-commerce platforms whose exports ingest recognises, and what each export must hold.
//!
//! A merchant points `orderlake ingest` at whatever their shop exported. Each export kind below is
//! recognised by the columns (CSV header, JSON keys) only it has, or failing that by the name the
//! platform gives the file, and lands in its own bronze table whatever the file is called (a
//! Shopify `orders.json` is `bronze.shopify_orders`, not the OMS's `bronze.orders`). Before any
//! file of a run is loaded, every recognised file is checked for the columns its staging models
//! read: a missing one is named and nothing is loaded.

use std::collections::BTreeSet;
use std::path::Path;

/// A platform with export kinds of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Olist,
    Shopify,
    WooCommerce,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Olist, Platform::Shopify, Platform::WooCommerce];

    pub fn name(self) -> &'static str {
        match self {
            Platform::Olist => "olist",
            Platform::Shopify => "shopify",
            Platform::WooCommerce => "woocommerce",
        }
    }

    /// The kinds of file this platform exports.
    pub fn kinds(self) -> impl Iterator<Item = &'static ExportKind> {
        KINDS.iter().filter(move |k| k.platform == self)
    }

    /// One line per accepted kind, for an error about a file that is none of them.
    pub fn accepted(self) -> String {
        self.kinds()
            .map(|k| format!("  - {} ({})", k.description, k.signature.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown platform '{s}' (known: {})",
                    Platform::ALL.map(Platform::name).join(", ")
                )
            })
    }
}

/// CSV or JSON (NDJSON or a document).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// One kind of file a platform exports.
#[derive(Debug)]
pub struct ExportKind {
    pub platform: Platform,
    /// The bronze table its rows land in.
    pub entity: &'static str,
    pub description: &'static str,
    pub format: Format,
    /// Columns that together only this kind has: a file with all of them is this kind.
    pub signature: &'static [&'static str],
    /// Columns the staging models read; a recognised file without one of them is refused.
    pub required: &'static [&'static str],
}

/// Every export kind. CSV column names are as [`orderlake_landing::clean_name`] cleans them.
pub const KINDS: &[ExportKind] = &[
    ExportKind {
        platform: Platform::Olist,
        entity: "olist_orders_dataset",
        description: "Olist orders, olist_orders_dataset.csv",
        format: Format::Csv,
        signature: &["order_id", "order_status", "order_purchase_timestamp"],
        required: &[
            "order_id",
            "customer_id",
            "order_status",
            "order_purchase_timestamp",
            "order_approved_at",
            "order_delivered_carrier_date",
            "order_delivered_customer_date",
            "order_estimated_delivery_date",
        ],
    },
    ExportKind {
        platform: Platform::Olist,
        entity: "olist_order_items_dataset",
        description: "Olist order items, olist_order_items_dataset.csv",
        format: Format::Csv,
        signature: &["order_item_id", "seller_id", "freight_value"],
        required: &[
            "order_id",
            "order_item_id",
            "product_id",
            "seller_id",
            "price",
            "freight_value",
        ],
    },
    ExportKind {
        platform: Platform::Olist,
        entity: "olist_order_payments_dataset",
        description: "Olist payments, olist_order_payments_dataset.csv",
        format: Format::Csv,
        signature: &["payment_sequential", "payment_installments"],
        required: &[
            "order_id",
            "payment_sequential",
            "payment_type",
            "payment_installments",
            "payment_value",
        ],
    },
    ExportKind {
        platform: Platform::Olist,
        entity: "olist_order_reviews_dataset",
        description: "Olist reviews, olist_order_reviews_dataset.csv",
        format: Format::Csv,
        signature: &["review_id", "review_score"],
        required: &[
            "review_id",
            "order_id",
            "review_score",
            "review_creation_date",
        ],
    },
    ExportKind {
        platform: Platform::Olist,
        entity: "olist_customers_dataset",
        description: "Olist customers, olist_customers_dataset.csv",
        format: Format::Csv,
        signature: &["customer_id", "customer_unique_id"],
        required: &[
            "customer_id",
            "customer_unique_id",
            "customer_zip_code_prefix",
            "customer_city",
            "customer_state",
        ],
    },
    ExportKind {
        platform: Platform::Olist,
        entity: "olist_products_dataset",
        description: "Olist products, olist_products_dataset.csv",
        format: Format::Csv,
        signature: &["product_id", "product_category_name"],
        required: &["product_id", "product_category_name", "product_weight_g"],
    },
    ExportKind {
        platform: Platform::Olist,
        entity: "olist_sellers_dataset",
        description: "Olist sellers, olist_sellers_dataset.csv",
        format: Format::Csv,
        signature: &["seller_id", "seller_zip_code_prefix"],
        required: &[
            "seller_id",
            "seller_zip_code_prefix",
            "seller_city",
            "seller_state",
        ],
    },
    ExportKind {
        platform: Platform::Olist,
        entity: "olist_geolocation_dataset",
        description: "Olist geolocation, olist_geolocation_dataset.csv",
        format: Format::Csv,
        signature: &["geolocation_zip_code_prefix", "geolocation_lat"],
        required: &[
            "geolocation_zip_code_prefix",
            "geolocation_lat",
            "geolocation_lng",
        ],
    },
    ExportKind {
        platform: Platform::Olist,
        entity: "product_category_name_translation",
        description: "Olist category translation, product_category_name_translation.csv",
        format: Format::Csv,
        signature: &["product_category_name", "product_category_name_english"],
        required: &["product_category_name", "product_category_name_english"],
    },
    ExportKind {
        platform: Platform::Shopify,
        entity: "shopify_orders",
        description: "Shopify orders as the Admin REST API returns them (GET /orders.json)",
        format: Format::Json,
        signature: &["line_items", "financial_status"],
        required: &[
            "id",
            "name",
            "created_at",
            "updated_at",
            "currency",
            "financial_status",
            "line_items",
        ],
    },
    ExportKind {
        platform: Platform::Shopify,
        entity: "shopify_orders_export",
        description: "Shopify's orders CSV export (Orders > Export), one row per line item",
        format: Format::Csv,
        signature: &["name", "financial_status", "lineitem_name"],
        required: &[
            "name",
            "email",
            "financial_status",
            "currency",
            "subtotal",
            "shipping",
            "taxes",
            "total",
            "discount_amount",
            "created_at",
            "lineitem_quantity",
            "lineitem_name",
            "lineitem_price",
        ],
    },
    ExportKind {
        platform: Platform::WooCommerce,
        entity: "woocommerce_orders",
        description: "WooCommerce orders as the REST API v3 returns them (GET /wp-json/wc/v3/orders)",
        format: Format::Json,
        signature: &["line_items", "fee_lines", "coupon_lines"],
        required: &[
            "id",
            "status",
            "currency",
            "date_created",
            "date_modified",
            "total",
            "line_items",
        ],
    },
];

/// A CSV header as a bronze column name. A platform's export is read with every header cleaned
/// (Shopify's `Lineitem quantity` is `lineitem_quantity`), as its staging models name them;
/// another file's headers stay as they are where Delta can store them.
pub fn column_name(header: &str, platform_export: bool) -> String {
    let header = header.trim();
    let storable = !header.is_empty()
        && header
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if storable && !platform_export {
        header.to_string()
    } else {
        orderlake_landing::clean_name(header)
    }
}

/// What a landing file was recognised as.
#[derive(Debug)]
pub struct Recognised {
    pub kind: &'static ExportKind,
    /// Required columns the file does not have.
    pub missing: Vec<&'static str>,
}

/// The export kind of a file with these `columns`, by its signature (the most specific wins), or
/// else by its name (`olist_orders_dataset.csv`, `olist_orders_dataset_2.csv`). `complete` says
/// whether `columns` are all of the file's (a truncated JSON document's are not): only then are
/// missing columns reported.
pub fn recognise(
    entity_from_name: &str,
    format: Format,
    columns: &BTreeSet<String>,
    complete: bool,
) -> Option<Recognised> {
    let of_format = || KINDS.iter().filter(move |k| k.format == format);
    let kind = of_format()
        .filter(|k| k.signature.iter().all(|c| columns.contains(*c)))
        .max_by_key(|k| k.signature.len())
        .or_else(|| of_format().find(|k| k.entity == entity_from_name))?;
    let missing = if complete {
        kind.required
            .iter()
            .copied()
            .filter(|c| !columns.contains(*c))
            .collect()
    } else {
        Vec::new()
    };
    Some(Recognised { kind, missing })
}

/// How many JSON rows are looked at to learn a file's keys.
const SAMPLE_ROWS: usize = 1_000;

/// A landing file's format and columns (CSV header cleaned as a platform's; the keys of its
/// first rows for JSON), and whether those are complete. `None` for Parquet.
pub fn columns_of(path: &Path) -> std::io::Result<Option<(Format, BTreeSet<String>, bool)>> {
    let lower = path.to_string_lossy().to_ascii_lowercase();
    if lower.ends_with(".parquet") {
        return Ok(None);
    }
    if lower.ends_with(".csv") {
        use std::io::BufRead;
        let mut first = Vec::new();
        std::io::BufReader::new(std::fs::File::open(path)?).read_until(b'\n', &mut first)?;
        let body = first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&first);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(body);
        let mut record = csv::StringRecord::new();
        let header = match reader.read_record(&mut record) {
            Ok(true) => record.iter().map(|h| column_name(h, true)).collect(),
            _ => BTreeSet::new(),
        };
        return Ok(Some((Format::Csv, header, true)));
    }
    let mut keys = BTreeSet::new();
    let mut add = |value: &serde_json::Value| {
        if let serde_json::Value::Object(map) = value {
            keys.extend(map.keys().cloned());
        }
    };
    if !crate::formats::is_json_document(path)? {
        // NDJSON, possibly large: only its first rows are read.
        use std::io::BufRead;
        let reader = std::io::BufReader::new(std::fs::File::open(path)?);
        for line in reader.lines().take(SAMPLE_ROWS) {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(line?.trim()) {
                add(&value);
            }
        }
        return Ok(Some((Format::Json, keys, true)));
    }
    let text = std::fs::read_to_string(path)?;
    let text = text.trim_start_matches('\u{feff}');
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => items.iter().take(SAMPLE_ROWS).for_each(&mut add),
        Ok(serde_json::Value::Object(map)) if map.len() == 1 => match map.values().next() {
            Some(serde_json::Value::Array(items)) => {
                items.iter().take(SAMPLE_ROWS).for_each(&mut add)
            }
            Some(one) => add(one),
            None => {}
        },
        Ok(document) => add(&document),
        Err(_) => {
            let mut parsed_any = false;
            for line in text.lines().take(SAMPLE_ROWS) {
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(line.trim()) {
                    parsed_any |= value.is_object();
                    add(&value);
                }
            }
            if !parsed_any {
                // A truncated document: its keys as they appear in the text, for recognition only.
                return Ok(Some((Format::Json, quoted_keys(text), false)));
            }
        }
    }
    Ok(Some((Format::Json, keys, true)))
}

/// Every `"name":` in a JSON text that does not parse.
fn quoted_keys(text: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else { break };
        let name = &after[..end];
        let tail = after[end + 1..].trim_start();
        if tail.starts_with(':') && !name.contains('\\') {
            keys.insert(name.to_string());
        }
        rest = &after[end + 1..];
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(columns: &[&str]) -> BTreeSet<String> {
        columns.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn kinds_are_recognised_by_their_columns_whatever_the_file_is_called() {
        let items = set(&[
            "order_id",
            "order_item_id",
            "product_id",
            "seller_id",
            "shipping_limit_date",
            "price",
            "freight_value",
        ]);
        let found = recognise("items", Format::Csv, &items, true).unwrap();
        assert_eq!(found.kind.entity, "olist_order_items_dataset");
        assert!(found.missing.is_empty());
        // The translation shares product_category_name with products; its own column decides.
        let translation = set(&["product_category_name", "product_category_name_english"]);
        let found = recognise("x", Format::Csv, &translation, true).unwrap();
        assert_eq!(found.kind.entity, "product_category_name_translation");
        // An OMS orders file is no platform's.
        let oms = set(&["order_id", "customer_id", "status", "ordered_at"]);
        assert!(recognise("orders", Format::Json, &oms, true).is_none());
    }

    #[test]
    fn a_file_named_as_the_platform_names_it_reports_its_missing_columns() {
        let columns = set(&["order_id", "customer_id", "order_status"]);
        let found = recognise("olist_orders_dataset", Format::Csv, &columns, true).unwrap();
        assert_eq!(found.kind.entity, "olist_orders_dataset");
        assert!(found.missing.contains(&"order_purchase_timestamp"));
        assert!(!found.missing.contains(&"order_id"));
    }

    #[test]
    fn shopify_csv_headers_are_cleaned_into_column_names() {
        assert_eq!(column_name("Lineitem quantity", true), "lineitem_quantity");
        assert_eq!(column_name(" Name ", true), "name");
        assert_eq!(column_name("order_id", true), "order_id");
        // Another file keeps its headers where Delta can store them.
        assert_eq!(column_name("CustomerID", false), "CustomerID");
        assert_eq!(column_name("Unit Price", false), "unit_price");
        let header = ["Name", "Email", "Financial Status", "Lineitem name"];
        let columns: BTreeSet<String> = header.iter().map(|h| column_name(h, true)).collect();
        let found = recognise("orders_export_1", Format::Csv, &columns, true).unwrap();
        assert_eq!(found.kind.entity, "shopify_orders_export");
        assert!(found.missing.contains(&"lineitem_price"));
    }

    #[test]
    fn a_truncated_document_is_still_recognised_by_the_keys_in_its_text() {
        let keys =
            quoted_keys(r#"{"orders":[{"id":1,"line_items":[{"id":2}],"financial_status":"pa"#);
        assert!(keys.contains("line_items") && keys.contains("financial_status"));
        let found = recognise("orders", Format::Json, &keys, false).unwrap();
        assert_eq!(found.kind.entity, "shopify_orders");
        assert!(found.missing.is_empty());
    }

    #[test]
    fn platforms_parse_by_name() {
        assert_eq!("Shopify".parse::<Platform>(), Ok(Platform::Shopify));
        assert!("magento".parse::<Platform>().unwrap_err().contains("olist"));
    }
}
