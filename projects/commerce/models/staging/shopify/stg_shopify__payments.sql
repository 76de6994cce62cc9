-- A Shopify order's payment: its gateway (API) or payment method (CSV) for the order's total,
-- once the order was paid, as Shopify's gateway id (the CSV's 'Shopify Payments' is
-- shopify_payments). (Transactions are a separate API; the order carries this much.)
with methods as (
    select order_id, gateway as method from {{ ref('stg_shopify__api_orders') }}
    union all
    select distinct coalesce(order_id, order_name), payment_method from {{ ref('stg_shopify__export_lines') }}
    where coalesce(order_id, order_name) not in (select order_id from {{ ref('stg_shopify__api_orders') }})
)
select
    o.source_platform, o.order_key, cast(1 as bigint) as payment_no,
    coalesce(replace(lower(trim(m.method)), ' ', '_'), 'unknown') as method, cast(1 as bigint) as installments,
    o.paid_amount as amount, o.currency
from {{ ref('stg_shopify__orders') }} o
left join methods m on 'shopify:' || m.order_id = o.order_key
where o.payment_count > 0
