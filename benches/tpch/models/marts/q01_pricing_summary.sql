select
    return_flag, line_status,
    sum(quantity) as sum_qty,
    sum(extended_price) as sum_base_price,
    sum(extended_price * (1 - discount)) as sum_disc_price,
    sum(extended_price * (1 - discount) * (1 + tax)) as sum_charge,
    avg(quantity) as avg_qty,
    avg(extended_price) as avg_price,
    avg(discount) as avg_disc,
    count(*) as count_order
from {{ ref('stg_lineitem') }}
where ship_date <= date '1998-12-01' - interval '90' day
group by return_flag, line_status
