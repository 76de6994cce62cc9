-- Revenue per platform, currency and month, and for all platforms together ('all') in the
-- reporting currency. A sale (an order not cancelled or failed) counts in the month it was
-- placed; a refund in the month it was made (metrics: a return in the period it was returned).
-- revenue excludes tax: items after discounts + shipping + fees. net_revenue = revenue − refunds.
with sales as (
    select
        source_platform, currency, cast(date_trunc('month', ordered_at) as date) as month,
        count(*) as orders,
        sum(items_amount) as items_revenue,
        sum(shipping_amount) as shipping_revenue,
        sum(fee_amount) as fee_revenue,
        sum(revenue) as revenue,
        sum(tax_amount) as tax_amount,
        sum(revenue_reporting) as revenue_reporting
    from {{ ref('orders') }}
    where is_sale and ordered_at is not null
    group by source_platform, currency, cast(date_trunc('month', ordered_at) as date)
),
refunds as (
    select
        source_platform, currency, cast(date_trunc('month', refunded_at) as date) as month,
        sum(revenue_refunded) as refunds,
        sum(revenue_refunded_reporting) as refunds_reporting
    from {{ ref('refunds') }}
    where refunded_at is not null
    group by source_platform, currency, cast(date_trunc('month', refunded_at) as date)
),
per_platform as (
    select
        coalesce(s.source_platform, r.source_platform) as source_platform,
        coalesce(s.currency, r.currency) as currency,
        coalesce(s.month, r.month) as month,
        coalesce(s.orders, 0) as orders,
        coalesce(s.items_revenue, 0) as items_revenue,
        coalesce(s.shipping_revenue, 0) as shipping_revenue,
        coalesce(s.fee_revenue, 0) as fee_revenue,
        coalesce(s.revenue, 0) as revenue,
        coalesce(s.tax_amount, 0) as tax_amount,
        coalesce(r.refunds, 0) as refunds,
        coalesce(s.revenue_reporting, 0) as revenue_reporting,
        coalesce(r.refunds_reporting, 0) as refunds_reporting
    from sales s
    full outer join refunds r
      on r.source_platform = s.source_platform and r.currency = s.currency and r.month = s.month
),
combined as (
    select
        source_platform, currency, month, orders, items_revenue, shipping_revenue, fee_revenue,
        revenue, tax_amount, refunds, revenue_reporting, refunds_reporting
    from per_platform
    union all
    select
        'all', '{{ var("reporting_currency") }}', month, sum(orders),
        cast(null as decimal(18, 2)), cast(null as decimal(18, 2)), cast(null as decimal(18, 2)),
        sum(revenue_reporting), cast(null as decimal(18, 2)), sum(refunds_reporting),
        sum(revenue_reporting), sum(refunds_reporting)
    from per_platform
    group by month
)
select
    source_platform,
    currency,
    '{{ var("reporting_currency") }}' as reporting_currency,
    month,
    orders,
    {{ money('items_revenue') }} as items_revenue,
    {{ money('shipping_revenue') }} as shipping_revenue,
    {{ money('fee_revenue') }} as fee_revenue,
    {{ money('revenue') }} as revenue,
    {{ money('tax_amount') }} as tax_amount,
    {{ money('refunds') }} as refunds,
    {{ money('revenue - refunds') }} as net_revenue,
    {{ money('case when orders = 0 then null else revenue / orders end') }} as average_order_value,
    {{ money('revenue_reporting') }} as revenue_reporting,
    {{ money('refunds_reporting') }} as refunds_reporting,
    {{ money('revenue_reporting - refunds_reporting') }} as net_revenue_reporting
from combined
