select order_date, region, count(distinct order_key) as orders, sum(net_revenue) as revenue,
       sum(case when is_late then 1 else 0 end) as late_lines
from {{ ref('fct_order_lines') }}
group by order_date, region
