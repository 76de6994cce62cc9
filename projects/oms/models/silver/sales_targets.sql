-- One revenue target per location and month (the last one loaded wins).
with typed as (
    select
        try_cast(location_id as bigint) as location_id,
        try_cast(month as date) as month,
        try_cast(target_amount as decimal(18, 2)) as target_amount,
        _ingested_at, _source_file, _row_number
    from {{ source('bronze', 'sales_targets') }}
)
select location_id, month, target_amount
from (
    select *, row_number() over (partition by location_id, month order by _ingested_at desc, _source_file desc, _row_number desc) as _version
    from typed where location_id is not null and month is not null
) t
where _version = 1
