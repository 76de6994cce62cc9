-- How orders are paid, per platform and method: payments, orders, amount and share of amount.
select
    source_platform,
    method,
    count(*) as payments,
    count(distinct order_key) as orders,
    sum(amount) as amount,
    cast(sum(amount) as double) / sum(sum(amount)) over (partition by source_platform) as amount_share
from {{ ref('payments') }}
group by source_platform, method
