-- How orders are paid, per platform, currency and method: payments, orders, amount and the
-- method's share of the platform's amount in that currency.
select
    source_platform,
    currency,
    method,
    count(*) as payments,
    count(distinct order_key) as orders,
    sum(amount) as amount,
    cast(sum(amount) as double) / sum(sum(amount)) over (partition by source_platform, currency) as amount_share
from {{ ref('payments') }}
group by source_platform, currency, method
