-- Per product and warehouse, from the movement ledger. Definitions: docs/metrics.md.
-- Stock as it stands at the end of the as-of day: later movements have not happened yet.
with m as (
    select * from {{ ref('inventory_movements') }}
    where moved_at < cast({{ as_of_date() }} as timestamp) + interval '1 day'
),
levels as (
    select
        product_id, warehouse_id,
        sum(quantity) as on_hand,
        sum(case when moved_at < cast({{ as_of_date() }} as timestamp) then quantity else 0 end) as opening_balance,
        -sum(case when movement_type = 'sale'
                   and moved_at >= cast({{ as_of_date() }} as timestamp) - interval '30 days'
                   and moved_at < cast({{ as_of_date() }} as timestamp)
              then quantity else 0 end) as units_sold_30d
    from m
    group by product_id, warehouse_id
)
select
    l.product_id, p.description, p.category, l.warehouse_id, w.warehouse_name,
    l.on_hand, l.opening_balance, l.on_hand - l.opening_balance as moved_today,
    p.unit_cost,
    {{ money('l.on_hand * p.unit_cost') }} as stock_value,
    cast(l.units_sold_30d as double) / 30.0 as avg_daily_units_30d,
    case when l.units_sold_30d = 0 then null else cast(l.on_hand as double) / (cast(l.units_sold_30d as double) / 30.0) end as days_of_cover,
    coalesce(l.units_sold_30d > 0 and cast(l.on_hand as double) / (cast(l.units_sold_30d as double) / 30.0) < 7.0, false) as is_low_stock
from levels l
left join {{ ref('dim_products') }} p on p.product_id = l.product_id
left join {{ ref('warehouses') }} w on w.warehouse_id = l.warehouse_id
