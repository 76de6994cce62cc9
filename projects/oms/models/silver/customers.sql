-- The current version of each customer. Rows failing an expectation go to silver.customers__quarantine.
with typed as (
    select
        try_cast(customer_id as bigint) as customer_id,
        trim(customer_name) as customer_name,
        try_cast(customer_type_id as bigint) as customer_type_id,
        nullif(trim(email), '') as email,
        try_cast(location_id as bigint) as location_id,
        try_cast(registered_at as timestamp) as registered_at,
        {{ money("try_cast(credit_limit as decimal(18, 2))") }} as credit_limit,
        try_cast(updated_at as timestamp) as updated_at,
        _source_file, _ingested_at, _row_number
    from {{ source('bronze', 'customers') }}
),
latest as (
    select * from (select *, {{ latest_first('customer_id') }} as _version from typed) t where _version = 1
)
select
    l.customer_id, l.customer_name, l.customer_type_id, l.email, l.location_id, l.registered_at,
    l.credit_limit, l.updated_at,
    loc.location_id is not null as is_known_location,
    l._source_file, l._ingested_at, l._row_number
from latest l
left join {{ ref('locations') }} loc on loc.location_id = l.location_id
