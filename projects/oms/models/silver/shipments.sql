-- One row per shipment (its latest version: delivery is recorded by an update).
with typed as (
    select
        try_cast(shipment_id as bigint) as shipment_id,
        try_cast(order_id as bigint) as order_id,
        try_cast(carrier_id as bigint) as carrier_id,
        try_cast(warehouse_id as bigint) as warehouse_id,
        try_cast(shipped_at as timestamp) as shipped_at,
        try_cast(promised_at as timestamp) as promised_at,
        try_cast(delivered_at as timestamp) as delivered_at,
        try_cast(updated_at as timestamp) as updated_at,
        _source_file, _ingested_at, _row_number
    from {{ source('bronze', 'shipments') }}
)
select shipment_id, order_id, carrier_id, warehouse_id, shipped_at, promised_at, delivered_at, updated_at
from (select *, {{ latest_first('shipment_id') }} as _version from typed where shipment_id is not null) t
where _version = 1
