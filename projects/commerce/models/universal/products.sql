-- Products with their category as the platform names it and in English.
select
    'olist' as source_platform,
    'olist:' || product_id as product_key,
    product_id as source_product_id,
    category,
    coalesce(category_english, category) as category_english,
    weight_g
from {{ ref('stg_olist__products') }}
