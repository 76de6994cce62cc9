-- When each order left and arrived against the promise: late = delivered after the estimate's day.
select
    source_platform,
    order_key,
    shipped_at,
    delivered_at,
    estimated_delivery_at,
    case when delivered_at is null or estimated_delivery_at is null then null
         else cast(delivered_at as date) > cast(estimated_delivery_at as date) end as delivered_late,
    case when delivered_at is null then null
         else datediff('day', cast(ordered_at as date), cast(delivered_at as date)) end as days_to_deliver
from {{ ref('orders') }}
where shipped_at is not null or delivered_at is not null
