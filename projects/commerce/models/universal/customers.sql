-- One row per person per platform. Olist issues a customer_id per order; the person is its
-- customer_unique_id, so that is the stable key (customer_key), located where they last ordered.
with olist as (
    select
        c.customer_unique_id,
        c.zip_code_prefix, c.city, c.state,
        o.purchased_at
    from {{ ref('stg_olist__customers') }} c
    left join {{ ref('stg_olist__orders') }} o on o.customer_id = c.customer_id
)
select
    'olist' as source_platform,
    'olist:' || customer_unique_id as customer_key,
    customer_unique_id as source_customer_id,
    zip_code_prefix, city, state, 'BR' as country,
    min(purchased_at) over (partition by customer_unique_id) as first_ordered_at
from olist
qualify row_number() over (partition by customer_unique_id order by purchased_at desc nulls last, city) = 1
