select distinct
    try_cast(warehouse_id as bigint) as warehouse_id,
    trim(warehouse_name) as warehouse_name,
    try_cast(location_id as bigint) as location_id
from {{ source('bronze', 'warehouses') }}
where try_cast(warehouse_id as bigint) is not null
