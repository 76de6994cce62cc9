-- Price and cost history of every product as SCD type 2: one row per version, valid from its
-- updated_at until the next version's. The product cost at the time of an order comes from here.
with typed as (
    select
        try_cast(product_id as bigint) as product_id,
        trim(description) as description,
        trim(brand) as brand,
        trim(category) as category,
        try_cast(unit_price as decimal(18, 2)) as unit_price,
        try_cast(unit_cost as decimal(18, 2)) as unit_cost,
        try_cast(updated_at as timestamp) as valid_from,
        _source_file, _ingested_at, _row_number
    from {{ source('bronze', 'products') }}
),
versions as (
    -- A version re-sent in a later file replaces the earlier copy.
    select * from (
        select *, row_number() over (partition by product_id, valid_from order by _ingested_at desc, _source_file desc, _row_number desc) as _copy
        from typed
        where product_id is not null and valid_from is not null
    ) t where _copy = 1
)
select
    product_id, description, brand, category, unit_price, unit_cost, valid_from,
    lead(valid_from) over (partition by product_id order by valid_from) as valid_to,
    lead(valid_from) over (partition by product_id order by valid_from) is null as is_current
from versions
