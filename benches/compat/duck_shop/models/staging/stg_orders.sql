select
    * exclude (amount_cents, id),
    id as order_id,
    {{ cents_to_dollars('amount_cents') }} as amount,
    amount_cents >= {{ var('big_order_cents') }} as is_big,
    order_date::date as ordered_on,
    date_trunc('month', order_date::date)::date as order_month
from {{ ref('raw_orders') }}
