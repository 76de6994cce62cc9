-- WooCommerce products as their line items name them.
select
    source_platform, product_key, substr(product_key, 13) as source_product_id,
    max(product_name) as product_name, cast(null as varchar) as category, cast(null as varchar) as category_english
from {{ ref('stg_woocommerce__order_items') }}
group by source_platform, product_key
