-- OMS payments made against an order (silver.payments of the OMS project).
select
    'oms' as source_platform,
    'oms:' || cast(order_id as varchar) as order_key,
    row_number() over (partition by order_id order by paid_at, payment_id) as payment_no,
    coalesce(method, 'unknown') as method,
    cast(1 as bigint) as installments,
    {{ money('amount') }} as amount,
    '{{ var("oms_currency") }}' as currency
from {{ optional_table('oms_silver', 'payments', {
    'payment_id': 'bigint', 'order_id': 'bigint', 'amount': 'decimal(18, 2)', 'paid_at': 'timestamp', 'method': 'varchar'}) }} p
where order_id is not null
