{{ config(materialized='incremental', incremental_strategy='merge', unique_key='order_id', on_schema_change='append_new_columns') }}
-- One row per order: its latest version. Orders arrive as change events (NDJSON), duplicated or
-- late (an older version after a newer one); the newest `updated_at` wins whatever the arrival
-- order. Incremental: only rows ingested since the last run are read, together with the current
-- rows of the orders they touch, so a late older version never overwrites a newer one.
with arrived as (
    select
        try_cast(o.order_id as bigint) as order_id,
        try_cast(o.customer_id as bigint) as customer_id,
        try_cast(o.location_id as bigint) as location_id,
        coalesce(nullif(trim(o.channel), ''), 'unknown') as channel,
        coalesce(nullif(trim(o.source_system), ''), 'erp') as source_system,
        try_cast(o.ordered_at as timestamp) as ordered_at,
        lower(trim(o.status)) as status,
        nullif(trim(o.hold_reason), '') as hold_reason,
        nullif(trim(o.cancel_reason), '') as cancel_reason,
        try_cast(o.billed_at as timestamp) as billed_at,
        try_cast(o.updated_at as timestamp) as updated_at,
        o._source_file, o._ingested_at, o._row_number
    from {{ source('bronze', 'orders') }} o
    {% if is_incremental() %}
    where o._ingested_at > (select max(_ingested_at) from {{ this }})
    {% endif %}
),
candidates as (
    select * from arrived
    {% if is_incremental() %}
    union all
    select
        order_id, customer_id, location_id, channel, source_system, ordered_at, status,
        hold_reason, cancel_reason, billed_at, updated_at, _source_file, _ingested_at, _row_number
    from {{ this }}
    where order_id in (select order_id from arrived)
    {% endif %}
),
checked as (
    select
        c.*,
        c.status in ('raised', 'on_hold', 'billed', 'shipped', 'delivered', 'cancelled') as is_known_status,
        cu.customer_id is not null as is_known_customer
    from candidates c
    left join {{ ref('customers') }} cu on cu.customer_id = c.customer_id
)
select * except (_version)
from (
    select
        *,
        row_number() over (
            partition by order_id
            order by (ordered_at is not null and is_known_customer and is_known_status) desc,
                     updated_at desc nulls last, _ingested_at desc, _source_file desc, _row_number desc
        ) as _version
    from checked
    where order_id is not null
) t
where _version = 1
