select distinct try_cast(carrier_id as bigint) as carrier_id, trim(carrier_name) as carrier_name
from {{ source('bronze', 'carriers') }}
where try_cast(carrier_id as bigint) is not null
