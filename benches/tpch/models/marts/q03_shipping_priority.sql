select order_key, sum(net_revenue) as revenue, order_date, ship_priority
from (
    select l.order_key, l.extended_price * (1 - l.discount) as net_revenue, o.order_date, o.ship_priority
    from {{ ref('stg_customer') }} c
    join {{ ref('stg_orders') }} o on c.customer_key = o.customer_key
    join {{ ref('stg_lineitem') }} l on l.order_key = o.order_key
    where c.market_segment = 'BUILDING'
      and o.order_date < date '1995-03-15'
      and l.ship_date > date '1995-03-15'
) x
group by order_key, order_date, ship_priority
order by revenue desc, order_date
limit 10
