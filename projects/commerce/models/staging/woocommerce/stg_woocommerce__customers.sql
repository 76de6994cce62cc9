-- WooCommerce customers, one per billing e-mail (guests have customer_id 0), at their latest address.
select
    'woocommerce' as source_platform,
    'woocommerce:' || coalesce(customer_email, customer_id) as customer_key,
    coalesce(nullif(customer_id, '0'), customer_email) as source_customer_id,
    zip as zip_code_prefix, city, state, country
from {{ ref('stg_woocommerce__api_orders') }}
where coalesce(customer_email, customer_id) is not null
qualify row_number() over (partition by coalesce(customer_email, customer_id) order by created_at desc) = 1
