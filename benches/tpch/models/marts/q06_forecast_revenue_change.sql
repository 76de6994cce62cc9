select sum(extended_price * discount) as revenue
from {{ ref('stg_lineitem') }}
where ship_date >= date '1994-01-01' and ship_date < date '1995-01-01'
  and discount between 0.05 and 0.07 and quantity < 24
