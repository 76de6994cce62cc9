-- One row per person per platform, by the platform's stable identity: Olist issues a
-- customer_id per order, so the person is its customer_unique_id; Shopify and WooCommerce
-- customers are their e-mail address (guests included); OMS customers their id. Located where
-- they last ordered; first_ordered_at from their orders.
with olist as (
    select
        'olist' as source_platform,
        'olist:' || c.customer_unique_id as customer_key,
        c.customer_unique_id as source_customer_id,
        c.zip_code_prefix, c.city, c.state, 'BR' as country
    from {{ ref('stg_olist__customers') }} c
    left join {{ ref('stg_olist__orders') }} o on o.customer_id = c.customer_id
    qualify row_number() over (partition by c.customer_unique_id order by o.purchased_at desc nulls last, c.city) = 1
),
everyone as (
    select {{ customer_columns() }} from olist
    union all
    select {{ customer_columns() }} from {{ ref('stg_shopify__customers') }}
    union all
    select {{ customer_columns() }} from {{ ref('stg_woocommerce__customers') }}
    union all
    select {{ customer_columns() }} from {{ ref('stg_oms__customers') }}
),
first_orders as (
    select customer_key, min(ordered_at) as first_ordered_at
    from {{ ref('orders') }}
    group by customer_key
)
select e.*, f.first_ordered_at
from everyone e
left join first_orders f on f.customer_key = e.customer_key
