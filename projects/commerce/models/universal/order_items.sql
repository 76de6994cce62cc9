-- One row per order line of every platform (Olist: one unit per row), with the product's
-- category as the platform names it. Olist items whose order is not in the export are left
-- out: their count is the test `items_have_an_order`'s warning.
with olist as (
    select
        'olist' as source_platform,
        'olist:' || i.order_id as order_key,
        cast(i.order_item_id as varchar) as line_no,
        'olist:' || i.product_id as product_key,
        'olist:' || i.seller_id as store_key,
        cast(null as varchar) as product_name,
        coalesce(p.category_english, p.category) as category,
        cast(1 as bigint) as quantity,
        i.price as unit_price,
        {{ money('0') }} as discount_amount,
        i.price as line_amount,
        i.freight_value as shipping_amount,
        'BRL' as currency
    from {{ ref('stg_olist__order_items') }} i
    join {{ ref('stg_olist__orders') }} o on o.order_id = i.order_id
    left join {{ ref('stg_olist__products') }} p on p.product_id = i.product_id
)
select {{ item_columns() }} from olist
union all
select {{ item_columns() }} from {{ ref('stg_shopify__order_items') }}
union all
select {{ item_columns() }} from {{ ref('stg_woocommerce__order_items') }}
union all
select {{ item_columns() }} from {{ ref('stg_oms__order_items') }}
