-- No sale line has more units returned than sold.
select order_id, line_no, sum(quantity) as net_units
from {{ ref('fct_sales') }}
group by order_id, line_no
having sum(quantity) < 0
