select l.ship_mode,
    sum(case when o.priority = '1-URGENT' or o.priority = '2-HIGH' then 1 else 0 end) as high_line_count,
    sum(case when o.priority <> '1-URGENT' and o.priority <> '2-HIGH' then 1 else 0 end) as low_line_count
from {{ ref('stg_orders') }} o
join {{ ref('stg_lineitem') }} l on o.order_key = l.order_key
where l.ship_mode in ('MAIL', 'SHIP')
  and l.commit_date < l.receipt_date and l.ship_date < l.commit_date
  and l.receipt_date >= date '1994-01-01' and l.receipt_date < date '1995-01-01'
group by l.ship_mode
