-- Shopify customers, one per e-mail address, located at their latest order's shipping address.
with addresses as (
    select customer_email, customer_id, zip, city, province, country, created_at
    from {{ ref('stg_shopify__api_orders') }}
    union all
    select customer_email, cast(null as varchar), zip, city, province, country, created_at
    from {{ ref('stg_shopify__export_lines') }}
    where line_no = 1
)
select
    'shopify' as source_platform,
    'shopify:' || coalesce(customer_email, customer_id) as customer_key,
    coalesce(customer_id, customer_email) as source_customer_id,
    zip as zip_code_prefix, city, province as state, country
from addresses
where coalesce(customer_email, customer_id) is not null
qualify row_number() over (partition by coalesce(customer_email, customer_id) order by created_at desc, customer_id nulls last) = 1
