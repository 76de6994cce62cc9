-- One row per payment; exact duplicates of a payment event are collapsed.
with typed as (
    select
        try_cast(payment_id as bigint) as payment_id,
        try_cast(customer_id as bigint) as customer_id,
        try_cast(order_id as bigint) as order_id,
        try_cast(amount as decimal(18, 2)) as amount,
        try_cast(paid_at as timestamp) as paid_at,
        trim(method) as method,
        _source_file, _ingested_at, _row_number
    from {{ source('bronze', 'payments') }}
)
select payment_id, customer_id, order_id, amount, paid_at, method, _source_file, _ingested_at, _row_number
from (select *, {{ latest_first('payment_id', 'paid_at') }} as _version from typed where payment_id is not null) t
where _version = 1
