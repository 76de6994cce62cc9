-- Delivered orders per platform: how many, the share delivered after the estimated day, and
-- days from order to delivery.
select
    source_platform,
    count(*) as delivered_orders,
    sum(case when delivered_late then 1 else 0 end) as delivered_late,
    cast(sum(case when delivered_late then 1 else 0 end) as double) / count(*) as late_share,
    avg(days_to_deliver) as average_days_to_deliver
from {{ ref('shipments') }}
where delivered_at is not null and estimated_delivery_at is not null
group by source_platform
