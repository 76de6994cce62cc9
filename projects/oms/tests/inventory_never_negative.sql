-- On-hand stock is never below zero.
select product_id, warehouse_id, on_hand from {{ ref('inventory_levels') }} where on_hand < 0
