-- One row per order line of every platform (Olist: one unit per row). Items whose order is not
-- in the export are left out: their count is the test `items_have_an_order`'s warning.
select
    'olist' as source_platform,
    'olist:' || i.order_id as order_key,
    i.order_item_id as line_no,
    'olist:' || i.product_id as product_key,
    'olist:' || i.seller_id as store_key,
    1 as quantity,
    i.price as unit_price,
    i.price as line_amount,
    i.freight_value as shipping_amount,
    'BRL' as currency
from {{ ref('stg_olist__order_items') }} i
join {{ ref('stg_olist__orders') }} o on o.order_id = i.order_id
