-- the raw feed repeats a payment when it is retried: keep its last attempt
select
    id as payment_id,
    order_id,
    method,
    {{ cents_to_dollars('amount_cents') }} as amount,
    paid_at::timestamp as paid_at
from {{ ref('raw_payments') }}
qualify row_number() over (partition by id order by paid_at desc) = 1
