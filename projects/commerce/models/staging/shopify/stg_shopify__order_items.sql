-- Shopify line items in the universal shape: price in the presentment currency, the line's
-- discount the sum of its discount_allocations (Shopify spreads order discounts onto lines).
-- A product is its SKU where it has one, so both exports name it alike.
with api_lines as (
    select order_id, currency, unnest(json_get_array(line_items)) as item
    from {{ ref('stg_shopify__api_orders') }}
),
api_discounts as (
    select line_id, sum({{ json_money('allocation', "'amount_set', 'presentment_money', 'amount'") }}) as discount_amount
    from (
        select cast(json_get_int(item, 'id') as varchar) as line_id,
            unnest(json_get_array(item, 'discount_allocations')) as allocation
        from api_lines
    )
    group by line_id
),
api as (
    select
        l.order_id,
        cast(json_get_int(l.item, 'id') as varchar) as line_id,
        coalesce(nullif(json_get_str(l.item, 'sku'), ''), cast(json_get_int(l.item, 'product_id') as varchar), json_get_str(l.item, 'title')) as product_id,
        json_get_str(l.item, 'title') as product_name,
        cast(json_get_int(l.item, 'quantity') as bigint) as quantity,
        coalesce({{ json_money('l.item', "'price_set', 'presentment_money', 'amount'") }}, {{ json_money('l.item', "'price'") }}) as unit_price,
        coalesce(d.discount_amount, 0) as discount_amount,
        l.currency
    from api_lines l
    left join api_discounts d on d.line_id = cast(json_get_int(l.item, 'id') as varchar)
),
csv as (
    select
        coalesce(order_id, order_name) as order_id,
        cast(line_no as varchar) as line_id,
        coalesce(sku, product_name) as product_id,
        product_name, quantity, unit_price, line_discount as discount_amount, currency
    from {{ ref('stg_shopify__export_lines') }}
    where coalesce(order_id, order_name) not in (select order_id from {{ ref('stg_shopify__api_orders') }})
)
select
    'shopify' as source_platform,
    'shopify:' || order_id as order_key,
    line_id as line_no,
    'shopify:' || product_id as product_key,
    'shopify:shop' as store_key,
    product_name,
    cast(null as varchar) as category,
    quantity,
    {{ money('unit_price') }} as unit_price,
    {{ money('discount_amount') }} as discount_amount,
    {{ money('unit_price * quantity - discount_amount') }} as line_amount,
    {{ money('0') }} as shipping_amount,
    currency
from (select * from api union all select * from csv)
