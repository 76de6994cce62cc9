-- Olist payments, typed; one row per (order_id, payment_sequential). An order paid partly by
-- voucher has several rows.
select
    trim(order_id) as order_id,
    try_cast(payment_sequential as int) as payment_sequential,
    lower(trim(payment_type)) as payment_type,
    try_cast(payment_installments as int) as payment_installments,
    {{ money('try_cast(payment_value as double)') }} as payment_value
from {{ optional_source('olist', 'olist_order_payments_dataset', ['order_id', 'payment_sequential', 'payment_type', 'payment_installments', 'payment_value']) }} r
where nullif(trim(order_id), '') is not null and try_cast(payment_sequential as int) is not null
qualify {{ newest_copy('trim(order_id), try_cast(payment_sequential as int)') }}
