{{ config(
    materialized='cdc',
    keys=['order_id'],
    sequence_by='updated_at',
    stored_as_scd_type=2,
    track_history_column_list=['status'],
    except_column_list=['_source_file', '_row_number']
) }}
-- Every status an order has been in and when, from the order change events of the generator
-- and the desk (SCD type 2 by CDC apply): a version starts when the status changes and ends
-- when the next one starts; hold and cancel reasons and the billing time are updated in place.
-- Late and duplicated events land in their place by updated_at, whatever the arrival order.
select
    try_cast(o.order_id as bigint) as order_id,
    lower(trim(o.status)) as status,
    nullif(trim(o.hold_reason), '') as hold_reason,
    nullif(trim(o.cancel_reason), '') as cancel_reason,
    try_cast(o.billed_at as timestamp) as billed_at,
    try_cast(o.updated_at as timestamp) as updated_at,
    o._source_file, o._ingested_at, o._row_number
from {{ source('bronze', 'orders') }} o
where try_cast(o.order_id as bigint) is not null
  and try_cast(o.updated_at as timestamp) is not null
{% if is_incremental() %}
  -- Only events that arrived since the last run (the stored change points hold the rest; an
  -- event read twice is applied once).
  and o._ingested_at > (select max(_ingested_at) from {{ this }})
{% endif %}
