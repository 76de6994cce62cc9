-- OMS products (gold.dim_products of the OMS project); categories are in English already.
select
    'oms' as source_platform,
    'oms:' || cast(product_id as varchar) as product_key,
    cast(product_id as varchar) as source_product_id,
    description as product_name,
    category,
    category as category_english
from {{ optional_table('oms', 'dim_products', {
    'product_id': 'bigint', 'description': 'varchar', 'category': 'varchar'}) }} p
