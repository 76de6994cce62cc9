-- Historical customer lifetime value per person and platform, in the reporting currency:
-- revenue of their sales less what was refunded to them (metrics: clv = sales − refunds), with
-- their order count, average order value and first and last order.
with sales as (
    select
        source_platform, customer_key,
        count(*) as orders,
        sum(revenue_reporting) as revenue_reporting,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at
    from {{ ref('orders') }}
    where is_sale and customer_key is not null
    group by source_platform, customer_key
),
refunded as (
    select o.customer_key, sum(r.revenue_refunded_reporting) as refunds_reporting
    from {{ ref('refunds') }} r
    join {{ ref('orders') }} o on o.order_key = r.order_key
    group by o.customer_key
)
select
    s.source_platform,
    s.customer_key,
    s.orders,
    s.first_ordered_at,
    s.last_ordered_at,
    '{{ var("reporting_currency") }}' as reporting_currency,
    {{ money('s.revenue_reporting') }} as revenue_reporting,
    {{ money('coalesce(r.refunds_reporting, 0)') }} as refunds_reporting,
    {{ money('s.revenue_reporting - coalesce(r.refunds_reporting, 0)') }} as clv_reporting,
    {{ money('s.revenue_reporting / s.orders') }} as average_order_value_reporting
from sales s
left join refunded r on r.customer_key = s.customer_key
