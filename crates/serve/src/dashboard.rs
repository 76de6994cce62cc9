//! The dashboard: eight pages over the gold tables (seven over the OMS lakehouse, one over the
//! commerce project) and a Jobs page over the job log, each a set of panels (KPI tiles, charts,
//! tables) defined by one SQL query apiece. The same panel data is rendered into the page and
//! served as JSON (`/api/dashboard/{page}` and `/api/dashboard/{page}/{panel}`), so a chart and
//! its API never disagree.
//!
//! Filters (`from`, `to`, `channel`, `platform`) are validated, then substituted into the
//! queries through placeholders: `{{range:col}}` (a date column within the range),
//! `{{month:col}}` (a month column whose month overlaps it), `{{channel:col}}` and
//! `{{platform:col}}` (the commerce page's).

use std::sync::LazyLock;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::live::Snapshot;

/// What a panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One number.
    Kpi,
    Line,
    Bar,
    /// Horizontal bars, for ranked lists.
    Hbar,
    Doughnut,
    Table,
}

/// How numbers are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Money,
    Count,
    Percent,
    Number,
    Hours,
}

/// One tile, chart or table and the query behind it.
///
/// A chart query returns a label column then one column per series, or exactly the columns
/// `series, label, value` to be pivoted into one series per distinct `series`.
pub struct Panel {
    pub id: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    pub unit: Unit,
    pub sql: &'static str,
}

/// A dashboard page.
pub struct Page {
    pub slug: &'static str,
    pub title: &'static str,
    pub about: &'static str,
    /// Which filters change this page's numbers.
    pub filters: &'static [&'static str],
    /// A table the page reads: the page is shown where the project has it (the OMS pages on
    /// the OMS lakehouse, the commerce page on the commerce project).
    pub needs: &'static str,
    pub panels: &'static [Panel],
}

const fn panel(
    id: &'static str,
    title: &'static str,
    kind: Kind,
    unit: Unit,
    sql: &'static str,
) -> Panel {
    Panel {
        id,
        title,
        kind,
        unit,
        sql,
    }
}

use Kind::*;
use Unit::*;

/// Every page, in menu order.
pub static PAGES: &[Page] = &[
    Page {
        slug: "sales",
        title: "Sales overview",
        about: "Net revenue (after discounts, net of returns in the period they were returned), orders, AOV and returns, from gold.fct_sales.",
        filters: &["from", "to", "channel"],
        needs: "gold.fct_sales",
        panels: &[
            panel(
                "net_revenue",
                "Net revenue",
                Kpi,
                Money,
                "select cast(sum(net_revenue) as double) from gold.fct_sales where {{range:event_date}} and {{channel:channel}}",
            ),
            panel(
                "orders",
                "Orders",
                Kpi,
                Count,
                "select count(distinct case when line_type = 'sale' then order_id end) from gold.fct_sales where {{range:event_date}} and {{channel:channel}}",
            ),
            panel(
                "aov",
                "Average order value",
                Kpi,
                Money,
                "select cast(sum(case when line_type = 'sale' then net_revenue end) as double) / nullif(count(distinct case when line_type = 'sale' then order_id end), 0) from gold.fct_sales where {{range:event_date}} and {{channel:channel}}",
            ),
            panel(
                "returns",
                "Returns",
                Kpi,
                Money,
                "select cast(-coalesce(sum(case when line_type = 'return' then net_revenue end), 0) as double) from gold.fct_sales where {{range:event_date}} and {{channel:channel}}",
            ),
            panel(
                "margin",
                "Gross margin",
                Kpi,
                Percent,
                "select 100.0 * cast(sum(gross_profit) as double) / nullif(cast(sum(net_revenue) as double), 0) from gold.fct_sales where {{range:event_date}} and {{channel:channel}}",
            ),
            panel(
                "daily_revenue",
                "Net revenue by day",
                Line,
                Money,
                "select cast(event_date as varchar) as day, cast(sum(net_revenue) as double) as net_revenue from gold.fct_sales where {{range:event_date}} and {{channel:channel}} group by event_date order by event_date",
            ),
            panel(
                "daily_orders",
                "Orders by day",
                Line,
                Count,
                "select cast(event_date as varchar) as day, count(distinct order_id) as orders from gold.fct_sales where line_type = 'sale' and {{range:event_date}} and {{channel:channel}} group by event_date order by event_date",
            ),
            panel(
                "monthly",
                "Revenue and returns by month",
                Bar,
                Money,
                "select substr(cast(event_date as varchar), 1, 7) as month, cast(sum(case when line_type = 'sale' then net_revenue else 0 end) as double) as sales, cast(-sum(case when line_type = 'return' then net_revenue else 0 end) as double) as returns from gold.fct_sales where {{range:event_date}} and {{channel:channel}} group by 1 order by 1",
            ),
            panel(
                "by_channel",
                "Net revenue by channel",
                Doughnut,
                Money,
                "select coalesce(channel, '(none)') as channel, cast(sum(net_revenue) as double) as net_revenue from gold.fct_sales where {{range:event_date}} and {{channel:channel}} group by 1 order by 2 desc",
            ),
        ],
    },
    Page {
        slug: "customers",
        title: "Customers",
        about: "RFM segments and lifetime value as of the last build (gold.customer_segmentation, gold.customer_metrics); churn risk and expected 12-month value (gold.customer_predictions); cohorts by first-order month (gold.customer_cohorts).",
        filters: &["from", "to"],
        needs: "gold.fct_sales",
        panels: &[
            panel(
                "customers",
                "Customers",
                Kpi,
                Count,
                "select count(*) from gold.customer_metrics",
            ),
            panel(
                "avg_clv",
                "Average CLV",
                Kpi,
                Money,
                "select avg(cast(clv as double)) from gold.customer_metrics",
            ),
            panel(
                "champions",
                "Champions",
                Kpi,
                Count,
                "select count(*) from gold.customer_segmentation where segment = 'Champions'",
            ),
            panel(
                "segments",
                "Customers by RFM segment",
                Bar,
                Count,
                "select segment, count(*) as customers from gold.customer_segmentation group by 1 order by 2 desc",
            ),
            panel(
                "segment_value",
                "Revenue by RFM segment",
                Doughnut,
                Money,
                "select segment, cast(sum(monetary) as double) as revenue from gold.customer_segmentation group by 1 order by 2 desc",
            ),
            panel(
                "clv_distribution",
                "CLV distribution",
                Bar,
                Count,
                "select bucket, customers from (select case when clv < 1000 then '< 1k' when clv < 10000 then '1k–10k' when clv < 100000 then '10k–100k' when clv < 1000000 then '100k–1M' else '≥ 1M' end as bucket, min(clv) as low, count(*) as customers from gold.customer_metrics group by 1) order by low",
            ),
            panel(
                "cohorts",
                "Cohort retention (% of the cohort active)",
                Line,
                Percent,
                "select substr(cast(cohort_month as varchar), 1, 7) as series, cast(month_number as varchar) as label, retention_pct as value from gold.customer_cohorts where {{month:cohort_month}} order by cohort_month, month_number",
            ),
            panel(
                "risk_segments",
                "Churn risk: customers by segment (90 days)",
                Bar,
                Count,
                "select risk_segment, count(*) as customers from gold.customer_predictions group by 1 order by max(p_active_90d) desc",
            ),
            panel(
                "risk_value",
                "Expected value of the next 12 months by churn risk",
                Doughnut,
                Money,
                "select risk_segment, cast(sum(expected_value_12m) as double) as expected_value from gold.customer_predictions group by 1 order by max(p_active_90d) desc",
            ),
            panel(
                "at_risk",
                "Valuable customers at risk",
                Table,
                Money,
                "select customer_name as customer, risk_segment, round(100 * p_active_90d, 1) as p_active_90d_pct, orders, last_order_date, cast(expected_value_12m as double) as expected_value_12m from gold.customer_predictions where risk_segment in ('Medium risk', 'High risk') order by expected_value_12m desc limit 15",
            ),
            panel(
                "top_customers",
                "Top customers by CLV",
                Table,
                Money,
                "select customer_name as customer, order_count as orders, cast(clv as double) as clv, cast(aov as double) as aov, round(100 * return_rate, 1) as return_rate_pct, last_order_date from gold.customer_metrics order by clv desc limit 15",
            ),
        ],
    },
    Page {
        slug: "products",
        title: "Products",
        about: "Top products, return rates and margins over the chosen period and channel, from gold.fct_sales and gold.dim_products.",
        filters: &["from", "to", "channel"],
        needs: "gold.fct_sales",
        panels: &[
            panel(
                "products_sold",
                "Products sold",
                Kpi,
                Count,
                "select count(distinct product_id) from gold.fct_sales where line_type = 'sale' and {{range:event_date}} and {{channel:channel}}",
            ),
            panel(
                "units",
                "Units sold",
                Kpi,
                Count,
                "select sum(case when line_type = 'sale' then quantity else 0 end) from gold.fct_sales where {{range:event_date}} and {{channel:channel}}",
            ),
            panel(
                "return_rate",
                "Return rate (units)",
                Kpi,
                Percent,
                "select 100.0 * sum(case when line_type = 'return' then -quantity else 0 end) / nullif(sum(case when line_type = 'sale' then quantity else 0 end), 0) from gold.fct_sales where {{range:event_date}} and {{channel:channel}}",
            ),
            panel(
                "top_products",
                "Top 10 products by net revenue",
                Hbar,
                Money,
                "select p.description, cast(sum(s.net_revenue) as double) as net_revenue from gold.fct_sales s join gold.dim_products p on p.product_id = s.product_id where {{range:s.event_date}} and {{channel:s.channel}} group by 1 order by 2 desc limit 10",
            ),
            panel(
                "return_rates",
                "Highest return rates (products with ≥ 50 units sold)",
                Hbar,
                Percent,
                "select description, rate from (select p.description, 100.0 * sum(case when s.line_type = 'return' then -s.quantity else 0 end) / sum(case when s.line_type = 'sale' then s.quantity else 0 end) as rate, sum(case when s.line_type = 'sale' then s.quantity else 0 end) as sold from gold.fct_sales s join gold.dim_products p on p.product_id = s.product_id where {{range:s.event_date}} and {{channel:s.channel}} group by 1) where sold >= 50 order by rate desc limit 10",
            ),
            panel(
                "category_margin",
                "Gross margin by category",
                Bar,
                Percent,
                "select p.category, 100.0 * cast(sum(s.gross_profit) as double) / nullif(cast(sum(s.net_revenue) as double), 0) as margin_pct from gold.fct_sales s join gold.dim_products p on p.product_id = s.product_id where {{range:s.event_date}} and {{channel:s.channel}} group by 1 order by 2 desc",
            ),
            panel(
                "product_table",
                "Products",
                Table,
                Money,
                "select p.description as product, p.category, sum(case when s.line_type = 'sale' then s.quantity else 0 end) as units_sold, sum(case when s.line_type = 'return' then -s.quantity else 0 end) as units_returned, cast(sum(s.net_revenue) as double) as net_revenue, round(100.0 * cast(sum(s.gross_profit) as double) / nullif(cast(sum(s.net_revenue) as double), 0), 1) as margin_pct from gold.fct_sales s join gold.dim_products p on p.product_id = s.product_id where {{range:s.event_date}} and {{channel:s.channel}} group by 1, 2 order by net_revenue desc limit 25",
            ),
        ],
    },
    Page {
        slug: "regions",
        title: "Regions",
        about: "Net revenue by region, state and city over the chosen period and channel, from gold.fct_sales and gold.dim_locations.",
        filters: &["from", "to", "channel"],
        needs: "gold.fct_sales",
        panels: &[
            panel(
                "regions",
                "Regions with sales",
                Kpi,
                Count,
                "select count(distinct l.region) from gold.fct_sales s join gold.dim_locations l on l.location_id = s.location_id where {{range:s.event_date}} and {{channel:s.channel}}",
            ),
            panel(
                "cities",
                "Cities with sales",
                Kpi,
                Count,
                "select count(distinct l.city) from gold.fct_sales s join gold.dim_locations l on l.location_id = s.location_id where {{range:s.event_date}} and {{channel:s.channel}}",
            ),
            panel(
                "by_region",
                "Net revenue by region",
                Bar,
                Money,
                "select l.region, cast(sum(s.net_revenue) as double) as net_revenue from gold.fct_sales s join gold.dim_locations l on l.location_id = s.location_id where {{range:s.event_date}} and {{channel:s.channel}} group by 1 order by 2 desc",
            ),
            panel(
                "by_state",
                "Net revenue by state (ranked)",
                Hbar,
                Money,
                "select concat(l.state, ', ', l.country) as state, cast(sum(s.net_revenue) as double) as net_revenue from gold.fct_sales s join gold.dim_locations l on l.location_id = s.location_id where {{range:s.event_date}} and {{channel:s.channel}} group by 1 order by 2 desc limit 15",
            ),
            panel(
                "region_trend",
                "Net revenue by region and month",
                Line,
                Money,
                "select l.region as series, substr(cast(s.event_date as varchar), 1, 7) as label, cast(sum(s.net_revenue) as double) as value from gold.fct_sales s join gold.dim_locations l on l.location_id = s.location_id where {{range:s.event_date}} and {{channel:s.channel}} group by 1, 2 order by 2, 1",
            ),
            panel(
                "city_table",
                "Cities",
                Table,
                Money,
                "select l.region, l.state, l.city, count(distinct s.order_id) as orders, count(distinct s.customer_id) as customers, cast(sum(s.net_revenue) as double) as net_revenue from gold.fct_sales s join gold.dim_locations l on l.location_id = s.location_id where {{range:s.event_date}} and {{channel:s.channel}} group by 1, 2, 3 order by net_revenue desc limit 25",
            ),
        ],
    },
    Page {
        slug: "fulfilment",
        title: "Fulfilment",
        about: "Shipment SLA by carrier and warehouse (gold.shipment_sla): on time means delivered by the promised time.",
        filters: &["from", "to"],
        needs: "gold.fct_sales",
        panels: &[
            panel(
                "shipments",
                "Shipments",
                Kpi,
                Count,
                "select sum(shipments) from gold.shipment_sla where {{range:ship_day}}",
            ),
            panel(
                "on_time",
                "Delivered on time",
                Kpi,
                Percent,
                "select 100.0 * sum(on_time) / nullif(sum(delivered), 0) from gold.shipment_sla where {{range:ship_day}}",
            ),
            panel(
                "avg_hours",
                "Average delivery time",
                Kpi,
                Hours,
                "select sum(avg_delivery_hours * delivered) / nullif(sum(delivered), 0) from gold.shipment_sla where {{range:ship_day}}",
            ),
            panel(
                "late_open",
                "Late and not delivered",
                Kpi,
                Count,
                "select sum(late_open) from gold.shipment_sla where {{range:ship_day}}",
            ),
            panel(
                "carrier_sla",
                "On-time rate by carrier",
                Bar,
                Percent,
                "select carrier_name, 100.0 * sum(on_time) / nullif(sum(delivered), 0) as on_time_pct from gold.shipment_sla where {{range:ship_day}} group by 1 order by 2 desc",
            ),
            panel(
                "warehouse_sla",
                "On-time rate by warehouse",
                Bar,
                Percent,
                "select warehouse_name, 100.0 * sum(on_time) / nullif(sum(delivered), 0) as on_time_pct from gold.shipment_sla where {{range:ship_day}} group by 1 order by 2 desc",
            ),
            panel(
                "weekly_shipments",
                "Shipments and late deliveries by week",
                Line,
                Count,
                "select cast(cast(date_trunc('week', ship_day) as date) as varchar) as week, sum(shipments) as shipments, sum(delivered - on_time) as late from gold.shipment_sla where {{range:ship_day}} group by 1 order by 1",
            ),
            panel(
                "late_table",
                "Late shipments by carrier and warehouse",
                Table,
                Count,
                "select carrier_name as carrier, warehouse_name as warehouse, sum(shipments) as shipments, sum(delivered - on_time) as delivered_late, sum(late_open) as late_open, round(sum(avg_delivery_hours * delivered) / nullif(sum(delivered), 0), 1) as avg_hours from gold.shipment_sla where {{range:ship_day}} group by 1, 2 order by delivered_late desc",
            ),
        ],
    },
    Page {
        slug: "inventory",
        title: "Inventory",
        about: "Stock on hand and its value at cost, by warehouse and category, and what is running low (gold.inventory_levels, as of the last build).",
        filters: &[],
        needs: "gold.fct_sales",
        panels: &[
            panel(
                "stock_value",
                "Stock value",
                Kpi,
                Money,
                "select cast(sum(stock_value) as double) from gold.inventory_levels",
            ),
            panel(
                "units_on_hand",
                "Units on hand",
                Kpi,
                Count,
                "select sum(on_hand) from gold.inventory_levels",
            ),
            panel(
                "low_stock",
                "Low-stock items",
                Kpi,
                Count,
                "select count(*) from gold.inventory_levels where is_low_stock",
            ),
            panel(
                "value_by_warehouse",
                "Stock value by warehouse",
                Bar,
                Money,
                "select warehouse_name, cast(sum(stock_value) as double) as stock_value from gold.inventory_levels group by 1 order by 2 desc",
            ),
            panel(
                "value_by_category",
                "Stock value by category",
                Doughnut,
                Money,
                "select category, cast(sum(stock_value) as double) as stock_value from gold.inventory_levels group by 1 order by 2 desc",
            ),
            panel(
                "cover_table",
                "Fewest days of cover (low stock flagged)",
                Table,
                Count,
                "select description as product, warehouse_name as warehouse, on_hand, avg_daily_units_30d, round(days_of_cover, 1) as days_of_cover, is_low_stock as low_stock from gold.inventory_levels where days_of_cover is not null order by days_of_cover limit 25",
            ),
        ],
    },
    Page {
        slug: "credit",
        title: "Credit",
        about: "Receivables by age (gold.credit_aging), rebates by month (gold.monthly_rebates) and orders not yet billed or shipped (gold.outstanding_orders).",
        filters: &["from", "to"],
        needs: "gold.fct_sales",
        panels: &[
            panel(
                "balance",
                "Receivables",
                Kpi,
                Money,
                "select cast(sum(balance) as double) from gold.credit_aging",
            ),
            panel(
                "over_90",
                "Over 90 days",
                Kpi,
                Money,
                "select cast(sum(days_91_180 + days_over_180) as double) from gold.credit_aging",
            ),
            panel(
                "over_limit",
                "Customers over their limit",
                Kpi,
                Count,
                "select count(*) from gold.credit_aging where balance > credit_limit",
            ),
            panel(
                "outstanding",
                "Outstanding orders",
                Kpi,
                Count,
                "select count(*) from gold.outstanding_orders",
            ),
            panel(
                "aging",
                "Receivables by age",
                Bar,
                Money,
                "select '0–30 days' as bucket, cast(sum(days_0_30) as double) as amount from gold.credit_aging union all select '31–60 days', cast(sum(days_31_60) as double) from gold.credit_aging union all select '61–90 days', cast(sum(days_61_90) as double) from gold.credit_aging union all select '91–180 days', cast(sum(days_91_180) as double) from gold.credit_aging union all select '> 180 days', cast(sum(days_over_180) as double) from gold.credit_aging",
            ),
            panel(
                "rebates",
                "Rebates by month",
                Bar,
                Money,
                "select substr(cast(month as varchar), 1, 7) as month, cast(sum(rebate_amount) as double) as rebates from gold.monthly_rebates where {{month:month}} group by 1 order by 1",
            ),
            panel(
                "outstanding_status",
                "Outstanding orders by status",
                Doughnut,
                Count,
                "select coalesce(status, '(none)') as status, count(*) as orders from gold.outstanding_orders group by 1 order by 2 desc",
            ),
            panel(
                "balances_table",
                "Largest balances",
                Table,
                Money,
                "select customer_name as customer, region, cast(credit_limit as double) as credit_limit, cast(balance as double) as balance, cast(days_91_180 + days_over_180 as double) as over_90 from gold.credit_aging order by balance desc limit 15",
            ),
            panel(
                "outstanding_table",
                "Oldest outstanding orders",
                Table,
                Money,
                "select order_id, customer, location, age_days, cast(amount as double) as amount, status, hold_reason from gold.outstanding_orders order by age_days desc limit 15",
            ),
        ],
    },
    Page {
        slug: "commerce",
        title: "Commerce platforms",
        about: "Every platform of the commerce project (Olist, Shopify, WooCommerce, the OMS) in the reporting currency: revenue without tax, refunds in the month refunded, from commerce_gold.",
        filters: &["from", "to", "platform"],
        needs: "commerce_gold.platform_summary",
        panels: &[
            panel(
                "revenue",
                "Revenue (reporting currency)",
                Kpi,
                Money,
                "select cast(sum(revenue_reporting) as double) from commerce_gold.revenue_by_month where source_platform <> 'all' and {{month:month}} and {{platform:source_platform}}",
            ),
            panel(
                "orders",
                "Orders",
                Kpi,
                Count,
                "select sum(orders) from commerce_gold.revenue_by_month where source_platform <> 'all' and {{month:month}} and {{platform:source_platform}}",
            ),
            panel(
                "aov",
                "Average order value",
                Kpi,
                Money,
                "select cast(sum(revenue_reporting) as double) / nullif(sum(orders), 0) from commerce_gold.revenue_by_month where source_platform <> 'all' and {{month:month}} and {{platform:source_platform}}",
            ),
            panel(
                "refunds",
                "Refunds",
                Kpi,
                Money,
                "select cast(sum(refunds_reporting) as double) from commerce_gold.revenue_by_month where source_platform <> 'all' and {{month:month}} and {{platform:source_platform}}",
            ),
            panel(
                "revenue_by_month",
                "Revenue by month and platform",
                Line,
                Money,
                "select source_platform as series, cast(month as varchar) as label, cast(sum(revenue_reporting) as double) as value from commerce_gold.revenue_by_month where source_platform <> 'all' and {{month:month}} and {{platform:source_platform}} group by 1, 2 order by 2, 1",
            ),
            panel(
                "categories",
                "Top categories",
                Hbar,
                Money,
                "select category, cast(sum(revenue_reporting) as double) as revenue from commerce_gold.category_performance where source_platform <> 'all' and {{platform:source_platform}} group by 1 order by 2 desc limit 10",
            ),
            panel(
                "payment_mix",
                "Payment methods",
                Doughnut,
                Money,
                "select p.method, cast(sum(p.amount * o.exchange_rate) as double) as amount from commerce.payments p join commerce.orders o on o.order_key = p.order_key where {{platform:p.source_platform}} group by 1 order by 2 desc limit 8",
            ),
            panel(
                "segments",
                "RFM segments (customers)",
                Bar,
                Count,
                "select segment, count(*) as customers from commerce_gold.rfm_segments where {{platform:source_platform}} group by 1 order by 2 desc",
            ),
            panel(
                "platforms",
                "Platforms",
                Table,
                Number,
                "select source_platform, orders, customers, repeat_rate, revenue_reporting, refunds_reporting, net_revenue_reporting, average_order_value_reporting from commerce_gold.platform_summary where {{platform:source_platform}} order by revenue_reporting desc",
            ),
            panel(
                "delivery",
                "Delivery against the estimate",
                Table,
                Number,
                "select source_platform, delivered_orders, delivered_late, late_share, average_days_to_deliver from commerce_gold.delivery_performance where {{platform:source_platform}}",
            ),
        ],
    },
    Page {
        slug: "health",
        title: "Health",
        about: "Is the lakehouse sound? Open incidents (failed nodes and tests, stale sources, anomalies, failed jobs), each node's last run and the trend of its durations, data quality, quarantined rows by reason, anomaly checks with their numbers, and the files of each table. The same as /api/health and `orderlake health`; health.yml sets the metrics and where alerts go.",
        filters: &[],
        needs: "_orderlake.events",
        panels: &[
            panel(
                "run_seconds",
                "Seconds per run (sum over its nodes)",
                Line,
                Number,
                "select command as series, to_char(min(run_started_at), '%Y-%m-%d %H:%M:%S') as label, round(sum(seconds), 2) as value from _orderlake.events group by run_id, command order by label",
            ),
            panel(
                "run_problems",
                "Errors and failures per run",
                Bar,
                Count,
                "select status as series, to_char(min(run_started_at), '%Y-%m-%d %H:%M:%S') as label, count(*) as value from _orderlake.events where status in ('error', 'fail', 'warn') group by run_id, status order by label",
            ),
        ],
    },
    Page {
        slug: "jobs",
        title: "Jobs",
        about: "The runs of the jobs in schedules.yml (from _orderlake.job_runs): what ran, how it ended, how long it took, and what it said. Skipped runs overlapped a run still going; missed ones fell while no scheduler was up.",
        filters: &[],
        needs: "_orderlake.job_runs",
        panels: &[
            panel(
                "runs_24h",
                "Runs in the last 24 hours",
                Kpi,
                Count,
                "select count(*) from _orderlake.job_runs where started_at >= now() - interval '1 day' and outcome not in ('skipped', 'missed')",
            ),
            panel(
                "failed_24h",
                "Failed or timed out (24 h)",
                Kpi,
                Count,
                "select count(*) from _orderlake.job_runs where started_at >= now() - interval '1 day' and outcome in ('failed', 'timed_out', 'interrupted')",
            ),
            panel(
                "skipped_24h",
                "Skipped or missed (24 h)",
                Kpi,
                Count,
                "select count(*) from _orderlake.job_runs where started_at >= now() - interval '1 day' and outcome in ('skipped', 'missed')",
            ),
            panel(
                "seconds",
                "Seconds per run, by job",
                Line,
                Number,
                "select job as series, to_char(scheduled_for, '%Y-%m-%d %H:%M') as label, seconds as value from _orderlake.job_runs where outcome in ('success', 'failed', 'timed_out') order by scheduled_for",
            ),
            panel(
                "outcomes",
                "Runs per day by outcome",
                Bar,
                Count,
                "select outcome as series, to_char(scheduled_for, '%Y-%m-%d') as label, count(*) as value from _orderlake.job_runs group by 1, 2 order by 2, 1",
            ),
            panel(
                "last_runs",
                "Last run of each job",
                Table,
                Number,
                "select job, action, outcome, trigger, scheduled_for, started_at, round(seconds, 1) as seconds, detail from (select *, row_number() over (partition by job order by started_at desc, scheduled_for desc) as newest from _orderlake.job_runs) where newest = 1 order by job",
            ),
            panel(
                "recent",
                "Recent runs",
                Table,
                Number,
                "select job, action, outcome, trigger, scheduled_for, started_at, round(seconds, 1) as seconds, exit_code, detail from _orderlake.job_runs order by started_at desc, scheduled_for desc limit 50",
            ),
        ],
    },
];

/// The pages whose table this project has, in menu order (every page when none has: an empty
/// warehouse shows the OMS pages, each saying what it lacks).
pub async fn available_pages(snapshot: &Snapshot) -> Vec<&'static Page> {
    let mut available = Vec::new();
    for page in PAGES {
        if query(snapshot, &format!("select 1 from {} limit 0", page.needs))
            .await
            .is_ok()
        {
            available.push(page);
        }
    }
    if available.iter().all(|p| p.needs.starts_with("_orderlake.")) {
        // No gold yet: the OMS pages, each saying what it lacks (and the Jobs page, if jobs ran).
        let mut shown: Vec<_> = PAGES
            .iter()
            .filter(|p| p.needs == "gold.fct_sales")
            .collect();
        shown.extend(available);
        return shown;
    }
    available
}

/// The page with this slug.
pub fn page(slug: &str) -> Option<&'static Page> {
    PAGES.iter().find(|p| p.slug == slug)
}

/// Validated filters.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Filters {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub channel: Option<String>,
    /// The commerce page's platform (olist, shopify, woocommerce, oms).
    pub platform: Option<String>,
}

/// A filter value that cannot be used, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FilterError {
    pub field: String,
    pub message: String,
}

impl Filters {
    /// Parses `from`, `to` (YYYY-MM-DD) and `channel` (one of `channels`); empty means unset.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        channel: Option<&str>,
        channels: &[String],
    ) -> Result<Filters, FilterError> {
        let date = |field: &str, value: Option<&str>| -> Result<Option<NaiveDate>, FilterError> {
            match value.map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| FilterError {
                        field: field.to_string(),
                        message: format!("'{v}' is not a date (YYYY-MM-DD)"),
                    }),
            }
        };
        let from = date("from", from)?;
        let to = date("to", to)?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(FilterError {
                field: "to".into(),
                message: format!("{t} is before from ({f})"),
            });
        }
        let channel = one_of("channel", "a channel", channel, channels)?;
        Ok(Filters {
            from,
            to,
            channel,
            platform: None,
        })
    }

    /// The same filters narrowed to one `platform` (one of `platforms`); empty or `all` means
    /// every platform.
    pub fn with_platform(
        mut self,
        platform: Option<&str>,
        platforms: &[String],
    ) -> Result<Filters, FilterError> {
        self.platform = one_of("platform", "a platform with orders", platform, platforms)?;
        Ok(self)
    }

    /// `sql` with its filter placeholders replaced.
    pub fn apply(&self, sql: &str) -> String {
        static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"\{\{(range|month|channel|platform):([A-Za-z_][A-Za-z0-9_.]*)\}\}")
                .unwrap_or_else(|e| panic!("placeholder pattern: {e}"))
        });
        PLACEHOLDER
            .replace_all(sql, |c: &regex::Captures| {
                let column = &c[2];
                match &c[1] {
                    "channel" => match &self.channel {
                        // Validated against the known channels; quotes doubled all the same.
                        Some(ch) => format!("{column} = {}", orderlake_project::sql_string(ch)),
                        None => "true".to_string(),
                    },
                    "platform" => match &self.platform {
                        Some(p) => format!("{column} = {}", orderlake_project::sql_string(p)),
                        None => "true".to_string(),
                    },
                    kind => {
                        let mut parts = Vec::new();
                        if let Some(f) = self.from {
                            if kind == "month" {
                                parts.push(format!("{column} >= date '{}'", f.format("%Y-%m-01")));
                            } else {
                                parts.push(format!("{column} >= date '{f}'"));
                            }
                        }
                        if let Some(t) = self.to {
                            parts.push(format!("{column} <= date '{t}'"));
                        }
                        if parts.is_empty() {
                            "true".to_string()
                        } else {
                            format!("({})", parts.join(" and "))
                        }
                    }
                }
            })
            .into_owned()
    }
}

/// `value` if it is one of `known`; empty or `all` is none. The error names the field and
/// what it must be.
fn one_of(
    field: &str,
    what: &str,
    value: Option<&str>,
    known: &[String],
) -> Result<Option<String>, FilterError> {
    match value
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "all")
    {
        None => Ok(None),
        Some(v) if known.iter().any(|k| k == v) => Ok(Some(v.to_string())),
        Some(v) => Err(FilterError {
            field: field.into(),
            message: format!("'{v}' is not {what} (one of: {})", known.join(", ")),
        }),
    }
}

/// A panel's data, as the page and the JSON API give it.
#[derive(Debug, Clone, Serialize)]
pub struct PanelData {
    pub id: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    pub unit: Unit,
    /// KPI: the number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Charts: category labels and one series per measure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Series>,
    /// Tables: column names and rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<Vec<Value>>,
    /// When the query failed (a gold table missing, say): the message, shown in the panel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub name: String,
    pub data: Vec<Value>,
}

/// A page's data.
#[derive(Debug, Clone, Serialize)]
pub struct PageData {
    pub page: &'static str,
    pub title: &'static str,
    pub version: u64,
    pub filters: Filters,
    pub panels: Vec<PanelData>,
}

/// A panel's result: its column names (even with no rows) and its rows.
async fn query(snapshot: &Snapshot, sql: &str) -> Result<(Vec<String>, Vec<RecordBatch>), String> {
    let df = snapshot
        .warehouse
        .context()
        .sql(sql)
        .await
        .map_err(|e| e.to_string())?;
    let columns = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    Ok((columns, df.collect().await.map_err(|e| e.to_string())?))
}

/// Runs `sql` and returns its column names and its rows as JSON values.
pub(crate) async fn rows(
    snapshot: &Snapshot,
    sql: &str,
) -> Result<(Vec<String>, Vec<Vec<Value>>), String> {
    batches_to_rows(query(snapshot, sql).await?)
}

fn batches_to_rows(
    (columns, batches): (Vec<String>, Vec<RecordBatch>),
) -> Result<(Vec<String>, Vec<Vec<Value>>), String> {
    let mut writer = datafusion::arrow::json::ArrayWriter::new(Vec::new());
    for batch in &batches {
        writer.write(batch).map_err(|e| e.to_string())?;
    }
    writer.finish().map_err(|e| e.to_string())?;
    let bytes = writer.into_inner();
    let objects: Vec<Map<String, Value>> = if bytes.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())?
    };
    let rows = objects
        .into_iter()
        .map(|mut o| {
            columns
                .iter()
                .map(|c| o.remove(c).unwrap_or(Value::Null))
                .collect()
        })
        .collect();
    Ok((columns, rows))
}

/// Runs one panel's query with `filters`.
pub async fn panel_data(snapshot: &Snapshot, panel: &Panel, filters: &Filters) -> PanelData {
    let mut data = PanelData {
        id: panel.id,
        title: panel.title,
        kind: panel.kind,
        unit: panel.unit,
        value: None,
        labels: Vec::new(),
        series: Vec::new(),
        columns: Vec::new(),
        rows: Vec::new(),
        error: None,
    };
    let sql = filters.apply(panel.sql);
    let (columns, rows) = match query(snapshot, &sql).await.and_then(batches_to_rows) {
        Ok(result) => result,
        Err(e) => {
            data.error = Some(e);
            return data;
        }
    };
    match panel.kind {
        Kpi => {
            data.value = Some(
                rows.first()
                    .and_then(|r| r.first())
                    .cloned()
                    .unwrap_or(Value::Null),
            );
        }
        Table => {
            data.columns = columns;
            data.rows = rows;
        }
        _ if columns == ["series", "label", "value"] => {
            let (labels, series) = pivot(rows);
            data.labels = labels;
            data.series = series;
        }
        _ => {
            data.labels = rows
                .iter()
                .map(|r| r.first().cloned().unwrap_or(Value::Null))
                .collect();
            data.series = columns
                .iter()
                .enumerate()
                .skip(1)
                .map(|(i, name)| Series {
                    name: name.clone(),
                    data: rows
                        .iter()
                        .map(|r| r.get(i).cloned().unwrap_or(Value::Null))
                        .collect(),
                })
                .collect();
        }
    }
    data
}

/// `(series, label, value)` rows into labels in first-seen order and one series per name.
fn pivot(rows: Vec<Vec<Value>>) -> (Vec<Value>, Vec<Series>) {
    let mut labels: Vec<Value> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut cells: Vec<(usize, usize, Value)> = Vec::new();
    for row in rows {
        let mut row = row.into_iter();
        let (Some(series), Some(label), Some(value)) = (row.next(), row.next(), row.next()) else {
            continue;
        };
        let name = match series {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let s = names.iter().position(|n| *n == name).unwrap_or_else(|| {
            names.push(name);
            names.len() - 1
        });
        let l = labels.iter().position(|x| *x == label).unwrap_or_else(|| {
            labels.push(label);
            labels.len() - 1
        });
        cells.push((s, l, value));
    }
    let mut series: Vec<Series> = names
        .into_iter()
        .map(|name| Series {
            name,
            data: vec![Value::Null; labels.len()],
        })
        .collect();
    for (s, l, value) in cells {
        series[s].data[l] = value;
    }
    (labels, series)
}

/// Every panel of `page`.
pub async fn page_data(snapshot: &Snapshot, page: &'static Page, filters: &Filters) -> PageData {
    let mut panels = Vec::with_capacity(page.panels.len());
    for panel in page.panels {
        panels.push(panel_data(snapshot, panel, filters).await);
    }
    PageData {
        page: page.slug,
        title: page.title,
        version: snapshot.version,
        filters: filters.clone(),
        panels,
    }
}

/// The channels present in the sales facts, for the filter (once per snapshot).
pub async fn channels(snapshot: &Snapshot) -> Vec<String> {
    let sql = "select distinct channel from gold.fct_sales where channel is not null order by 1";
    snapshot
        .channels
        .get_or_init(|| first_column_texts(snapshot, sql))
        .await
        .clone()
}

/// The text values of a query's first column; none when the query fails (a table this
/// project does not have).
async fn first_column_texts(snapshot: &Snapshot, sql: &str) -> Vec<String> {
    match query(snapshot, sql).await.and_then(batches_to_rows) {
        Ok((_, rows)) => rows
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The platforms with orders in the commerce project's universal schema (none elsewhere).
pub async fn platforms(snapshot: &Snapshot) -> Vec<String> {
    let sql = "select distinct source_platform from commerce.orders order by 1";
    first_column_texts(snapshot, sql).await
}

/// The first and last sale dates, shown as the filter's bounds.
pub async fn date_bounds(snapshot: &Snapshot) -> (Option<String>, Option<String>) {
    let sql = "select cast(min(event_date) as varchar), cast(max(event_date) as varchar) from gold.fct_sales";
    match query(snapshot, sql).await.and_then(batches_to_rows) {
        Ok((_, rows)) => {
            let row = rows.into_iter().next().unwrap_or_default();
            let text = |v: Option<&Value>| v.and_then(|v| v.as_str()).map(str::to_string);
            (text(row.first()), text(row.get(1)))
        }
        Err(_) => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_validate_and_substitute() {
        let channels = vec!["web".to_string(), "store".to_string()];
        let f = Filters::parse(
            Some("2024-02-01"),
            Some("2024-03-31"),
            Some("web"),
            &channels,
        )
        .expect("valid");
        assert_eq!(
            f.apply("where {{range:s.event_date}} and {{channel:s.channel}} and {{month:month}}"),
            "where (s.event_date >= date '2024-02-01' and s.event_date <= date '2024-03-31') \
             and s.channel = 'web' and (month >= date '2024-02-01' and month <= date '2024-03-31')"
        );
        let none = Filters::default();
        assert_eq!(none.apply("{{range:d}} and {{channel:c}}"), "true and true");
        let err = Filters::parse(Some("2024-13-01"), None, None, &channels).unwrap_err();
        assert_eq!(err.field, "from");
        let err = Filters::parse(None, None, Some("x' or 1=1 --"), &channels).unwrap_err();
        assert_eq!(err.field, "channel");
        let err =
            Filters::parse(Some("2024-03-01"), Some("2024-02-01"), None, &channels).unwrap_err();
        assert_eq!(err.field, "to");
    }

    #[test]
    fn the_platform_filter_validates_and_substitutes() {
        let platforms = vec!["olist".to_string(), "shopify".to_string()];
        let f = Filters::default()
            .with_platform(Some("shopify"), &platforms)
            .unwrap();
        assert_eq!(
            f.apply("select 1 where {{platform:p.source_platform}}"),
            "select 1 where p.source_platform = 'shopify'"
        );
        let all = Filters::default()
            .with_platform(Some("all"), &platforms)
            .unwrap();
        assert_eq!(all.apply("{{platform:source_platform}}"), "true");
        let err = Filters::default()
            .with_platform(Some("magento"), &platforms)
            .unwrap_err();
        assert_eq!(err.field, "platform");
        assert!(err.message.contains("olist, shopify"), "{}", err.message);
    }

    #[test]
    fn pivot_makes_one_series_per_name_with_gaps_as_null() {
        let rows = vec![
            vec![Value::from("a"), Value::from("1"), Value::from(10)],
            vec![Value::from("b"), Value::from("2"), Value::from(5)],
            vec![Value::from("a"), Value::from("2"), Value::from(7)],
        ];
        let (labels, series) = pivot(rows);
        assert_eq!(labels, vec![Value::from("1"), Value::from("2")]);
        assert_eq!(series[0].name, "a");
        assert_eq!(series[0].data, vec![Value::from(10), Value::from(7)]);
        assert_eq!(series[1].data, vec![Value::Null, Value::from(5)]);
    }

    #[test]
    fn every_panel_id_is_unique_within_its_page() {
        for page in PAGES {
            let mut ids: Vec<_> = page.panels.iter().map(|p| p.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), page.panels.len(), "page {}", page.slug);
        }
    }
}
