-- Products of every platform with their category as the platform names it and in English
-- (Olist's translation file; OMS categories are English; Shopify and WooCommerce order
-- exports name no category).
with olist as (
    select
        'olist' as source_platform,
        'olist:' || product_id as product_key,
        product_id as source_product_id,
        cast(null as varchar) as product_name,
        category,
        coalesce(category_english, category) as category_english
    from {{ ref('stg_olist__products') }}
)
select {{ product_columns() }} from olist
union all
select {{ product_columns() }} from {{ ref('stg_shopify__products') }}
union all
select {{ product_columns() }} from {{ ref('stg_woocommerce__products') }}
union all
select {{ product_columns() }} from {{ ref('stg_oms__products') }}
