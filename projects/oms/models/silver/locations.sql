with typed as (
    select
        try_cast(location_id as bigint) as location_id,
        trim(region) as region,
        trim(country) as country,
        trim(state) as state,
        trim(city) as city,
        try_cast(territory_id as bigint) as territory_id,
        try_cast(updated_at as timestamp) as updated_at,
        _source_file, _ingested_at, _row_number
    from {{ source('bronze', 'locations') }}
)
select location_id, region, country, state, city, territory_id, updated_at
from (select *, {{ latest_first('location_id') }} as _version from typed where location_id is not null) t
where _version = 1
