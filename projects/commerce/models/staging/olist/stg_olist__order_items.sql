-- Olist order items, typed; one row per (order_id, order_item_id). Items whose order is not in
-- the export are kept here and dropped (and counted) by the universal model.
select
    trim(order_id) as order_id,
    try_cast(order_item_id as int) as order_item_id,
    trim(product_id) as product_id,
    trim(seller_id) as seller_id,
    {{ text_timestamp('shipping_limit_date') }} as shipping_limit_at,
    {{ money('try_cast(price as double)') }} as price,
    {{ money('try_cast(freight_value as double)') }} as freight_value
from {{ optional_source('olist', 'olist_order_items_dataset', ['order_id', 'order_item_id', 'product_id', 'seller_id', 'shipping_limit_date', 'price', 'freight_value']) }} r
where nullif(trim(order_id), '') is not null and try_cast(order_item_id as int) is not null
qualify {{ newest_copy('trim(order_id), try_cast(order_item_id as int)') }}
