select distinct try_cast(customer_type_id as bigint) as customer_type_id, trim(customer_type) as customer_type
from {{ source('bronze', 'customer_types') }}
where try_cast(customer_type_id as bigint) is not null
