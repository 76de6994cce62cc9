-- Where goods are sold from: Olist's sellers (a marketplace order may have several), and one
-- store each for a Shopify shop, a WooCommerce shop and the OMS desk that sold something.
select
    'olist' as source_platform,
    'olist:' || seller_id as store_key,
    seller_id as source_store_id,
    zip_code_prefix, city, state, 'BR' as country
from {{ ref('stg_olist__sellers') }}
union all
select distinct
    source_platform, store_key, source_platform as source_store_id,
    cast(null as varchar) as zip_code_prefix, cast(null as varchar) as city,
    cast(null as varchar) as state, cast(null as varchar) as country
from {{ ref('order_items') }}
where source_platform <> 'olist'
