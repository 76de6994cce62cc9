-- One row per payment of every platform, with its method and installments.
select
    'olist' as source_platform,
    'olist:' || p.order_id as order_key,
    p.payment_sequential as payment_no,
    p.payment_type as method,
    p.payment_installments as installments,
    p.payment_value as amount,
    'BRL' as currency
from {{ ref('stg_olist__payments') }} p
join {{ ref('stg_olist__orders') }} o on o.order_id = p.order_id
