select customer_key, market_segment, nation, count(distinct order_key) as orders,
       sum(net_revenue) as revenue, min(order_date) as first_order, max(order_date) as last_order
from {{ ref('fct_order_lines') }}
group by customer_key, market_segment, nation
