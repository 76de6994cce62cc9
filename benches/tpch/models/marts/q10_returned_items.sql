select c.customer_key, c.name, sum(l.extended_price * (1 - l.discount)) as revenue,
       c.account_balance, n.nation
from {{ ref('stg_customer') }} c
join {{ ref('stg_orders') }} o on c.customer_key = o.customer_key
join {{ ref('stg_lineitem') }} l on l.order_key = o.order_key
join {{ ref('stg_nation') }} n on c.nation_key = n.nation_key
where o.order_date >= date '1993-10-01' and o.order_date < date '1994-01-01'
  and l.return_flag = 'R'
group by c.customer_key, c.name, c.account_balance, n.nation
order by revenue desc, c.customer_key
limit 20
