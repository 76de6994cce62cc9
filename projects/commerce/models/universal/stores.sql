-- Where goods are sold from: Olist's sellers (a marketplace order may have several).
select
    'olist' as source_platform,
    'olist:' || seller_id as store_key,
    seller_id as source_store_id,
    zip_code_prefix, city, state, 'BR' as country
from {{ ref('stg_olist__sellers') }}
