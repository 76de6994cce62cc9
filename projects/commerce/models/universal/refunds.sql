-- Money given back, one row per refund of every platform (an OMS return's refund note, a
-- Shopify refund, a WooCommerce refund), with its tax share, in the order's currency and in
-- the reporting currency at the rate of the refund's day.
with all_refunds as (
    select {{ refund_columns() }} from {{ ref('stg_shopify__refunds') }}
    union all
    select {{ refund_columns() }} from {{ ref('stg_woocommerce__refunds') }}
    union all
    select {{ refund_columns() }} from {{ ref('stg_oms__refunds') }}
)
select
    r.*,
    {{ money('r.amount - r.tax_amount') }} as revenue_refunded,
    '{{ var("reporting_currency") }}' as reporting_currency,
    {{ money('(r.amount - r.tax_amount) * rate.usd_per_unit / reporting_rate.usd_per_unit') }} as revenue_refunded_reporting
from all_refunds r
left join {{ ref('exchange_rates') }} rate
  on rate.currency = r.currency and rate.rate_date = cast(r.refunded_at as date)
left join {{ ref('exchange_rates') }} reporting_rate
  on reporting_rate.currency = '{{ var("reporting_currency") }}' and reporting_rate.rate_date = cast(r.refunded_at as date)
