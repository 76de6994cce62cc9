-- Olist products with the English category where the translation has one. A product without a
-- category keeps a null category.
with translation as (
    select
        trim(product_category_name) as category,
        trim(product_category_name_english) as category_english
    from {{ source('olist', 'product_category_name_translation') }}
    qualify {{ newest_copy('trim(product_category_name)') }}
)
select
    trim(p.product_id) as product_id,
    nullif(trim(p.product_category_name), '') as category,
    t.category_english,
    try_cast(p.product_weight_g as double) as weight_g,
    try_cast(p.product_photos_qty as int) as photos
from {{ source('olist', 'olist_products_dataset') }} p
left join translation t on t.category = nullif(trim(p.product_category_name), '')
where nullif(trim(p.product_id), '') is not null
qualify {{ newest_copy('trim(p.product_id)') }}
