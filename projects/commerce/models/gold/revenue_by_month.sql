-- Revenue per platform and month of order, in the order's currency and in the reporting
-- currency: items (product revenue) and shipping of orders that were not cancelled.
select
    source_platform,
    currency,
    reporting_currency,
    cast(date_trunc('month', ordered_at) as date) as month,
    count(*) as orders,
    sum(items_amount) as items_revenue,
    sum(shipping_amount) as shipping_revenue,
    sum(order_amount) as revenue,
    {{ money('sum(order_amount) / count(*)') }} as average_order_value,
    sum(order_amount_reporting) as revenue_reporting
from {{ ref('orders') }}
where status <> 'cancelled' and ordered_at is not null
group by source_platform, currency, reporting_currency, cast(date_trunc('month', ordered_at) as date)
