-- The stock movement ledger: receipts (+), sales (−), returns to stock (+), adjustments (±).
select movement_id, product_id, warehouse_id, movement_type, quantity, moved_at
from (
    select
        cast(movement_id as bigint) as movement_id,
        cast(product_id as bigint) as product_id,
        cast(warehouse_id as bigint) as warehouse_id,
        lower(movement_type) as movement_type,
        cast(quantity as bigint) as quantity,
        cast(moved_at as timestamp) as moved_at,
        {{ latest_first('movement_id', 'moved_at') }} as _version
    from {{ source('bronze', 'inventory_movements') }}
) t
where _version = 1
