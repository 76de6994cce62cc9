-- Orders neither billed nor cancelled (the seed's pending-orders report).
select
    o.order_id, o.customer_id, c.customer_name as customer, o.location_id, l.city as location,
    o.ordered_at,
    {{ days_between('cast(o.ordered_at as date)', as_of_date()) }} as age_days,
    o.units,
    {{ money('o.gross_amount - o.discount_amount') }} as amount,
    o.status,
    o.hold_reason
from {{ ref('fct_orders') }} o
left join {{ ref('dim_customers') }} c on c.customer_id = o.customer_id
left join {{ ref('dim_locations') }} l on l.location_id = o.location_id
where o.status in ('raised', 'on_hold')
