-- OMS returns as refunds: each return's refund note (net revenue plus its VAT), on its day.
select
    'oms' as source_platform,
    'oms:' || cast(order_id as varchar) || ':' || cast(return_id as varchar) as refund_key,
    'oms:' || cast(order_id as varchar) as order_key,
    min(event_at) as refunded_at,
    {{ money('-sum(net_revenue + vat_amount)') }} as amount,
    {{ money('-sum(vat_amount)') }} as tax_amount,
    cast(-sum(quantity) as bigint) as quantity,
    'return' as reason,
    '{{ var("oms_currency") }}' as currency
from {{ ref('stg_oms__sales') }}
where line_type = 'return'
group by order_id, return_id
