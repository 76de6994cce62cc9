-- Olist products with the English category where the translation has one. A product without a
-- category keeps a null category.
with translation as (
    select
        trim(product_category_name) as category,
        trim(product_category_name_english) as category_english
    from {{ optional_source('olist', 'product_category_name_translation', ['product_category_name', 'product_category_name_english']) }} t
    qualify {{ newest_copy('trim(product_category_name)') }}
)
select
    trim(p.product_id) as product_id,
    nullif(trim(p.product_category_name), '') as category,
    t.category_english,
    try_cast(p.product_weight_g as double) as weight_g,
    try_cast(p.product_photos_qty as int) as photos
from {{ optional_source('olist', 'olist_products_dataset', ['product_id', 'product_category_name', 'product_weight_g', 'product_photos_qty']) }} p
left join translation t on t.category = nullif(trim(p.product_category_name), '')
where nullif(trim(p.product_id), '') is not null
qualify {{ newest_copy('trim(p.product_id)') }}
