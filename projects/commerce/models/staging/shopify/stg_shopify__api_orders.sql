-- Shopify orders as the Admin REST API returns them (bronze.shopify_orders: one row per order
-- per export, nested values as JSON text), one row per order: the copy with the newest
-- updated_at (an order exported again after it changed), then the newest file.
-- Money is the presentment currency's (what the customer paid in); the shop currency is kept.
select
    cast(id as varchar) as order_id,
    name as order_name,
    lower(trim(coalesce(json_get_str(customer, 'email'), email))) as customer_email,
    cast(json_get_int(customer, 'id') as varchar) as customer_id,
    lower(financial_status) as financial_status,
    lower(fulfillment_status) as fulfillment_status,
    {{ utc_timestamp('created_at') }} as created_at,
    {{ utc_timestamp('processed_at') }} as processed_at,
    {{ utc_timestamp('updated_at') }} as updated_at,
    {{ utc_timestamp('cancelled_at') }} as cancelled_at,
    coalesce(presentment_currency, currency) as currency,
    currency as shop_currency,
    coalesce({{ json_money('total_line_items_price_set', "'presentment_money', 'amount'") }}, cast(total_line_items_price as decimal(18, 2))) as gross_amount,
    coalesce({{ json_money('total_discounts_set', "'presentment_money', 'amount'") }}, cast(total_discounts as decimal(18, 2)), 0) as discount_amount,
    coalesce({{ json_money('total_shipping_price_set', "'presentment_money', 'amount'") }}, 0) as shipping_amount,
    coalesce({{ json_money('total_tax_set', "'presentment_money', 'amount'") }}, cast(total_tax as decimal(18, 2)), 0) as tax_amount,
    coalesce({{ json_money('total_price_set', "'presentment_money', 'amount'") }}, cast(total_price as decimal(18, 2))) as order_amount,
    json_get_str(payment_gateway_names, 0) as gateway,
    json_get_str(shipping_address, 'zip') as zip,
    json_get_str(shipping_address, 'city') as city,
    json_get_str(shipping_address, 'province_code') as province,
    json_get_str(shipping_address, 'country_code') as country,
    line_items, refunds, fulfillments
from {{ optional_source('shopify', 'shopify_orders', [
    'id', 'name', 'email', 'customer', 'financial_status', 'fulfillment_status', 'created_at',
    'processed_at', 'updated_at', 'cancelled_at', 'currency', 'presentment_currency',
    'total_line_items_price', 'total_line_items_price_set', 'total_discounts', 'total_discounts_set',
    'total_shipping_price_set', 'total_tax', 'total_tax_set', 'total_price', 'total_price_set',
    'payment_gateway_names', 'shipping_address', 'line_items', 'refunds', 'fulfillments']) }} o
where nullif(trim(id), '') is not null
qualify row_number() over (
    partition by cast(id as varchar)
    order by {{ utc_timestamp('updated_at') }} desc nulls last, _ingested_at desc, _source_file desc, _row_number desc) = 1
