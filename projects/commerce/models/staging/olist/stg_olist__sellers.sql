-- Olist sellers: the stores of the marketplace.
select
    trim(seller_id) as seller_id,
    trim(seller_zip_code_prefix) as zip_code_prefix,
    trim(seller_city) as city,
    upper(trim(seller_state)) as state
from {{ optional_source('olist', 'olist_sellers_dataset', ['seller_id', 'seller_zip_code_prefix', 'seller_city', 'seller_state']) }} r
where nullif(trim(seller_id), '') is not null
qualify {{ newest_copy('trim(seller_id)') }}
