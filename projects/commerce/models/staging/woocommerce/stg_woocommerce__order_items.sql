-- WooCommerce line items: subtotal is before coupons, total after (the coupon's share).
with lines as (
    select order_id, currency, unnest(json_get_array(line_items)) as item
    from {{ ref('stg_woocommerce__api_orders') }}
)
select
    'woocommerce' as source_platform,
    'woocommerce:' || order_id as order_key,
    cast(json_get_int(item, 'id') as varchar) as line_no,
    'woocommerce:' || coalesce(nullif(json_get_str(item, 'sku'), ''), cast(json_get_int(item, 'product_id') as varchar)) as product_key,
    'woocommerce:shop' as store_key,
    json_get_str(item, 'name') as product_name,
    cast(null as varchar) as category,
    cast(json_get_int(item, 'quantity') as bigint) as quantity,
    {{ money("cast(json_get_str(item, 'subtotal') as decimal(18, 2)) / json_get_int(item, 'quantity')") }} as unit_price,
    {{ money("cast(json_get_str(item, 'subtotal') as decimal(18, 2)) - cast(json_get_str(item, 'total') as decimal(18, 2))") }} as discount_amount,
    {{ money("cast(json_get_str(item, 'total') as decimal(18, 2))") }} as line_amount,
    {{ money('0') }} as shipping_amount,
    currency
from lines
