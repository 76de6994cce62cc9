-- one row per order line with its order, customer and nation: the wide table marts read
select
    l.order_key, l.line_number, o.order_date, o.status as order_status, o.priority,
    c.customer_key, c.market_segment, n.nation, n.region,
    l.part_key, l.supplier_key, l.quantity, l.extended_price, l.discount, l.tax,
    l.extended_price * (1 - l.discount) as net_revenue,
    l.return_flag, l.line_status, l.ship_date, l.commit_date, l.receipt_date, l.ship_mode,
    l.receipt_date > l.commit_date as is_late
from {{ ref('stg_lineitem') }} l
join {{ ref('stg_orders') }} o on o.order_key = l.order_key
join {{ ref('stg_customer') }} c on c.customer_key = o.customer_key
join {{ ref('stg_nation') }} n on n.nation_key = c.nation_key
