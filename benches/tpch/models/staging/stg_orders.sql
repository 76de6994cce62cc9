select
    o_orderkey as order_key, o_custkey as customer_key, o_orderstatus as status,
    o_totalprice as total_price, o_orderdate as order_date, o_orderpriority as priority,
    o_shippriority as ship_priority
from {{ source('tpch', 'orders') }}
