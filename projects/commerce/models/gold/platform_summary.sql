-- One row per platform and one for all ('all'), in the reporting currency: orders (sales),
-- customers, revenue, refunds, net revenue, average order value and the repeat-customer rate.
with per_platform as (
    select
        source_platform,
        sum(orders) as orders,
        count(*) as customers,
        sum(case when orders > 1 then 1 else 0 end) as repeat_customers,
        sum(revenue_reporting) as revenue_reporting,
        sum(refunds_reporting) as refunds_reporting
    from {{ ref('customer_value') }}
    group by source_platform
),
everything as (
    select * from per_platform
    union all
    select 'all', sum(orders), sum(customers), sum(repeat_customers), sum(revenue_reporting), sum(refunds_reporting)
    from per_platform
)
select
    source_platform,
    orders,
    customers,
    repeat_customers,
    cast(repeat_customers as double) / customers as repeat_rate,
    '{{ var("reporting_currency") }}' as reporting_currency,
    {{ money('revenue_reporting') }} as revenue_reporting,
    {{ money('refunds_reporting') }} as refunds_reporting,
    {{ money('revenue_reporting - refunds_reporting') }} as net_revenue_reporting,
    {{ money('revenue_reporting / orders') }} as average_order_value_reporting
from everything
