select c.name, c.customer_key, o.order_key, o.order_date, o.total_price, sum(l.quantity) as quantity
from {{ ref('stg_customer') }} c
join {{ ref('stg_orders') }} o on c.customer_key = o.customer_key
join {{ ref('stg_lineitem') }} l on o.order_key = l.order_key
where o.order_key in (
    select order_key from {{ ref('stg_lineitem') }} group by order_key having sum(quantity) > 300
)
group by c.name, c.customer_key, o.order_key, o.order_date, o.total_price
order by o.total_price desc, o.order_date
limit 100
