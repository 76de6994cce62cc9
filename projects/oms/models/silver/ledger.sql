-- Accounts-receivable entries. Debits: invoices. Credits: payments, refunds, rebates, write-offs.
with typed as (
    select
        try_cast(entry_id as bigint) as entry_id,
        try_cast(customer_id as bigint) as customer_id,
        lower(trim(entry_type)) as entry_type,
        try_cast(amount as decimal(18, 2)) as amount,
        try_cast(value_date as date) as value_date,
        try_cast(order_id as bigint) as order_id,
        _source_file, _ingested_at, _row_number
    from {{ source('bronze', 'ledger') }}
)
select
    entry_id, customer_id, entry_type, amount, value_date, order_id,
    case when entry_type = 'invoice' then amount else -amount end as signed_amount
from (select *, {{ latest_first('entry_id', 'value_date') }} as _version from typed where entry_id is not null) t
where _version = 1
