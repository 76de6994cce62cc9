-- Customers (persons, by the platform's stable identity) and how many ordered more than once.
with per_customer as (
    select source_platform, customer_key, count(*) as orders
    from {{ ref('orders') }}
    where customer_key is not null
    group by source_platform, customer_key
)
select
    source_platform,
    count(*) as customers,
    sum(case when orders > 1 then 1 else 0 end) as repeat_customers,
    cast(sum(case when orders > 1 then 1 else 0 end) as double) / count(*) as repeat_rate
from per_customer
group by source_platform
