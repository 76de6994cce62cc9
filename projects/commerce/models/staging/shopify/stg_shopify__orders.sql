-- Shopify orders in the universal shape, from the API export and from the CSV export (an order
-- in both is taken from the API, which has more). The universal status follows Shopify's
-- cancelled_at, financial_status and fulfillments: cancelled or voided → cancelled; refunded;
-- delivered (a fulfillment's shipment_status) → delivered; fulfilled → shipped; paid → paid;
-- pending/authorized → placed. The customer is the e-mail address (both exports have it).
with fulfillments as (
    select order_id, unnest(json_get_array(fulfillments)) as fulfillment
    from {{ ref('stg_shopify__api_orders') }}
),
shipped as (
    select
        order_id,
        min({{ utc_timestamp("json_get_str(fulfillment, 'created_at')") }}) as shipped_at,
        max(case when json_get_str(fulfillment, 'shipment_status') = 'delivered'
                 then {{ utc_timestamp("json_get_str(fulfillment, 'updated_at')") }} end) as delivered_at
    from fulfillments
    group by order_id
),
items as (
    select order_id, sum(json_get_int(item, 'quantity')) as item_count
    from (select order_id, unnest(json_get_array(line_items)) as item from {{ ref('stg_shopify__api_orders') }})
    group by order_id
),
api as (
    select
        o.order_id, o.customer_email, o.customer_id, o.financial_status, o.fulfillment_status,
        o.created_at, o.processed_at as paid_at, s.shipped_at, s.delivered_at, o.cancelled_at,
        o.currency, coalesce(i.item_count, 0) as item_count, o.gross_amount, o.discount_amount,
        o.shipping_amount, o.tax_amount, o.order_amount
    from {{ ref('stg_shopify__api_orders') }} o
    left join shipped s on s.order_id = o.order_id
    left join items i on i.order_id = o.order_id
),
csv as (
    select
        coalesce(order_id, order_name) as order_id, customer_email, cast(null as varchar) as customer_id,
        financial_status, fulfillment_status, created_at, paid_at, fulfilled_at as shipped_at,
        cast(null as timestamp) as delivered_at, cancelled_at, currency,
        sum(quantity) as item_count,
        sum(unit_price * quantity) as gross_amount,
        max(discount_amount) as discount_amount,
        max(shipping_amount) as shipping_amount, max(tax_amount) as tax_amount, max(order_amount) as order_amount
    from {{ ref('stg_shopify__export_lines') }}
    where coalesce(order_id, order_name) not in (select order_id from {{ ref('stg_shopify__api_orders') }})
    group by coalesce(order_id, order_name), customer_email, financial_status, fulfillment_status, created_at,
        paid_at, fulfilled_at, cancelled_at, currency
),
both_exports as (
    select * from api
    union all
    select * from csv
)
select
    'shopify' as source_platform,
    'shopify:' || order_id as order_key,
    order_id as source_order_id,
    'shopify:' || coalesce(customer_email, customer_id) as customer_key,
    case
        when cancelled_at is not null or financial_status = 'voided' then 'cancelled'
        when financial_status = 'refunded' then 'refunded'
        when delivered_at is not null then 'delivered'
        when fulfillment_status in ('fulfilled', 'partial') then 'shipped'
        when financial_status in ('paid', 'partially_paid', 'partially_refunded') then 'paid'
        else 'placed'
    end as status,
    financial_status || coalesce('/' || fulfillment_status, '') as source_status,
    created_at as ordered_at,
    case when financial_status in ('paid', 'partially_paid', 'partially_refunded', 'refunded') then paid_at end as paid_at,
    shipped_at,
    delivered_at,
    cast(null as timestamp) as estimated_delivery_at,
    currency,
    cast(item_count as bigint) as item_count,
    {{ money('gross_amount') }} as gross_amount,
    {{ money('discount_amount') }} as discount_amount,
    {{ money('gross_amount - discount_amount') }} as items_amount,
    {{ money('shipping_amount') }} as shipping_amount,
    {{ money('0') }} as fee_amount,
    {{ money('tax_amount') }} as tax_amount,
    {{ money('order_amount') }} as order_amount,
    {{ money("case when financial_status in ('paid', 'partially_refunded', 'refunded') then order_amount else 0 end") }} as paid_amount,
    cast(case when financial_status in ('paid', 'partially_refunded', 'refunded') then 1 else 0 end as bigint) as payment_count,
    false as paid_with_voucher
from both_exports
