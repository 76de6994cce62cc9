-- Shopify's orders CSV export (bronze.shopify_orders_export): one row per line item, the order's
-- fields on its first row only, filled here onto every row. An export loaded twice (the same
-- file under two names, or a later export with the same orders) counts once: each order is read
-- from the newest file that has it.
with rows as (
    select
        *,
        dense_rank() over (partition by trim(name) order by _ingested_at desc, _source_file desc) as copy_rank
    from {{ optional_source('shopify', 'shopify_orders_export', [
        'name', 'email', 'financial_status', 'paid_at', 'fulfillment_status', 'fulfilled_at', 'currency',
        'subtotal', 'shipping', 'taxes', 'total', 'discount_amount', 'created_at', 'cancelled_at',
        'lineitem_quantity', 'lineitem_name', 'lineitem_price', 'lineitem_sku', 'lineitem_discount',
        'shipping_city', 'shipping_zip', 'shipping_province', 'shipping_country', 'payment_method',
        'refunded_amount', 'id']) }} r
    where nullif(trim(name), '') is not null
)
select
    trim(name) as order_name,
    max(id) over (partition by _source_file, trim(name)) as order_id,
    lower(trim(max(email) over (partition by _source_file, trim(name)))) as customer_email,
    lower(max(financial_status) over (partition by _source_file, trim(name))) as financial_status,
    lower(max(fulfillment_status) over (partition by _source_file, trim(name))) as fulfillment_status,
    {{ utc_timestamp('max(created_at) over (partition by _source_file, trim(name))') }} as created_at,
    {{ utc_timestamp('max(paid_at) over (partition by _source_file, trim(name))') }} as paid_at,
    {{ utc_timestamp('max(fulfilled_at) over (partition by _source_file, trim(name))') }} as fulfilled_at,
    {{ utc_timestamp('max(cancelled_at) over (partition by _source_file, trim(name))') }} as cancelled_at,
    max(currency) over (partition by _source_file, trim(name)) as currency,
    cast(max(subtotal) over (partition by _source_file, trim(name)) as decimal(18, 2)) as subtotal_amount,
    cast(max(shipping) over (partition by _source_file, trim(name)) as decimal(18, 2)) as shipping_amount,
    cast(max(taxes) over (partition by _source_file, trim(name)) as decimal(18, 2)) as tax_amount,
    cast(max(total) over (partition by _source_file, trim(name)) as decimal(18, 2)) as order_amount,
    cast(coalesce(max(discount_amount) over (partition by _source_file, trim(name)), '0') as decimal(18, 2)) as discount_amount,
    cast(coalesce(max(refunded_amount) over (partition by _source_file, trim(name)), '0') as decimal(18, 2)) as refunded_amount,
    max(payment_method) over (partition by _source_file, trim(name)) as payment_method,
    max(shipping_city) over (partition by _source_file, trim(name)) as city,
    max(shipping_zip) over (partition by _source_file, trim(name)) as zip,
    max(shipping_province) over (partition by _source_file, trim(name)) as province,
    max(shipping_country) over (partition by _source_file, trim(name)) as country,
    row_number() over (partition by _source_file, trim(name) order by _row_number) as line_no,
    cast(lineitem_quantity as bigint) as quantity,
    lineitem_name as product_name,
    lineitem_sku as sku,
    cast(lineitem_price as decimal(18, 2)) as unit_price,
    cast(coalesce(lineitem_discount, '0') as decimal(18, 2)) as line_discount
from rows
where copy_rank = 1
