-- Olist sellers: the stores of the marketplace.
select
    trim(seller_id) as seller_id,
    trim(seller_zip_code_prefix) as zip_code_prefix,
    trim(seller_city) as city,
    upper(trim(seller_state)) as state
from {{ source('olist', 'olist_sellers_dataset') }}
where nullif(trim(seller_id), '') is not null
qualify {{ newest_copy('trim(seller_id)') }}
