select n.nation, sum(l.extended_price * (1 - l.discount)) as revenue
from {{ ref('stg_customer') }} c
join {{ ref('stg_orders') }} o on c.customer_key = o.customer_key
join {{ ref('stg_lineitem') }} l on l.order_key = o.order_key
join {{ ref('stg_supplier') }} s on l.supplier_key = s.supplier_key and c.nation_key = s.nation_key
join {{ ref('stg_nation') }} n on s.nation_key = n.nation_key
where n.region = 'ASIA'
  and o.order_date >= date '1994-01-01' and o.order_date < date '1995-01-01'
group by n.nation
