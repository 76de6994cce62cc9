with typed as (
    select
        try_cast(territory_id as bigint) as territory_id,
        trim(territory_name) as territory_name,
        trim(manager_first_name) || ' ' || trim(manager_last_name) as manager,
        try_cast(updated_at as timestamp) as updated_at,
        _source_file, _ingested_at, _row_number
    from {{ source('bronze', 'territories') }}
)
select territory_id, territory_name, manager, updated_at
from (select *, {{ latest_first('territory_id') }} as _version from typed where territory_id is not null) t
where _version = 1
