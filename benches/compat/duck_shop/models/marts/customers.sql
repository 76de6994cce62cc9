select
    c.customer_id,
    c.full_name,
    c.signup_month,
    len(c.tags) > 0 as has_tags,
    coalesce(o.orders, 0) as orders,
    coalesce(o.revenue, 0) as revenue,
    o.last_status,
    case when o.revenue >= 100 then 'gold' when o.revenue >= 50 then 'silver' else 'bronze' end as tier
from {{ ref('stg_customers') }} c
left join {{ ref('customer_orders') }} o using (customer_id)
