-- WooCommerce orders as the REST API v3 returns them (bronze.woocommerce_orders), one row per
-- order: the copy with the newest date_modified_gmt (a page fetched again after the order
-- changed), then the newest file. Times are the *_gmt fields (UTC).
select
    cast(id as varchar) as order_id,
    lower(status) as status,
    currency,
    cast(customer_id as varchar) as customer_id,
    lower(trim(json_get_str(billing, 'email'))) as customer_email,
    json_get_str(billing, 'postcode') as zip,
    json_get_str(billing, 'city') as city,
    json_get_str(billing, 'state') as state,
    json_get_str(billing, 'country') as country,
    {{ utc_timestamp('coalesce(date_created_gmt, date_created)') }} as created_at,
    {{ utc_timestamp('coalesce(date_modified_gmt, date_modified)') }} as modified_at,
    {{ utc_timestamp('coalesce(date_paid_gmt, date_paid)') }} as paid_at,
    {{ utc_timestamp('coalesce(date_completed_gmt, date_completed)') }} as completed_at,
    cast(coalesce(discount_total, '0') as decimal(18, 2)) as discount_amount,
    cast(coalesce(shipping_total, '0') as decimal(18, 2)) as shipping_amount,
    cast(coalesce(total_tax, '0') as decimal(18, 2)) as tax_amount,
    cast(total as decimal(18, 2)) as order_amount,
    payment_method as payment_method_id,
    line_items, fee_lines, refunds
from {{ optional_source('woocommerce', 'woocommerce_orders', [
    'id', 'status', 'currency', 'customer_id', 'billing', 'date_created', 'date_created_gmt',
    'date_modified', 'date_modified_gmt', 'date_paid', 'date_paid_gmt', 'date_completed',
    'date_completed_gmt', 'discount_total', 'shipping_total', 'total_tax', 'total',
    'payment_method', 'payment_method_title', 'line_items', 'fee_lines', 'refunds']) }} o
where nullif(trim(id), '') is not null
qualify row_number() over (
    partition by cast(id as varchar)
    order by {{ utc_timestamp('coalesce(date_modified_gmt, date_modified)') }} desc nulls last,
        _ingested_at desc, _source_file desc, _row_number desc) = 1
