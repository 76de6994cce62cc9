-- Olist orders, typed; one row per order_id (the newest copy when an export was loaded twice).
select
    trim(order_id) as order_id,
    trim(customer_id) as customer_id,
    lower(trim(order_status)) as order_status,
    {{ text_timestamp('order_purchase_timestamp') }} as purchased_at,
    {{ text_timestamp('order_approved_at') }} as approved_at,
    {{ text_timestamp('order_delivered_carrier_date') }} as shipped_at,
    {{ text_timestamp('order_delivered_customer_date') }} as delivered_at,
    {{ text_timestamp('order_estimated_delivery_date') }} as estimated_delivery_at
from {{ optional_source('olist', 'olist_orders_dataset', ['order_id', 'customer_id', 'order_status', 'order_purchase_timestamp', 'order_approved_at', 'order_delivered_carrier_date', 'order_delivered_customer_date', 'order_estimated_delivery_date']) }} r
where nullif(trim(order_id), '') is not null
qualify {{ newest_copy('trim(order_id)') }}
