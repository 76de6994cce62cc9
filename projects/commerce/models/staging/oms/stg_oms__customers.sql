-- OMS customers (gold.dim_customers of the OMS project).
select
    'oms' as source_platform,
    'oms:' || cast(customer_id as varchar) as customer_key,
    cast(customer_id as varchar) as source_customer_id,
    cast(null as varchar) as zip_code_prefix, city, state, country
from {{ optional_table('oms', 'dim_customers', {
    'customer_id': 'bigint', 'city': 'varchar', 'state': 'varchar', 'country': 'varchar'}) }} c
