-- One row per order of every platform, in the order's currency. status is the universal one
-- (placed, on_hold, paid, processing, shipped, delivered, cancelled, refunded, failed);
-- source_status is the platform's. Amounts: gross_amount is items at their price,
-- items_amount after discounts; order_amount is what the customer was charged (items after
-- discounts + shipping + fees + tax); revenue is that without tax (metrics: revenue is net of
-- tax); refunded_amount is money returned (with its tax share in refunded_tax).
-- A sale is an order that is not cancelled or failed; refunds are subtracted separately.
-- order_amount and revenue also in the reporting currency (var reporting_currency) at the rate
-- of the order's day (seeds/exchange_rates.csv; a missing rate fails orders_have_an_exchange_rate).
with olist_items as (
    select order_id, count(*) as item_count, sum(price) as items_amount, sum(freight_value) as shipping_amount
    from {{ ref('stg_olist__order_items') }}
    group by order_id
),
olist_payments as (
    select order_id, sum(payment_value) as paid_amount, count(*) as payment_count,
        bool_or(payment_type = 'voucher') as paid_with_voucher
    from {{ ref('stg_olist__payments') }}
    group by order_id
),
olist as (
select
    'olist' as source_platform,
    'olist:' || o.order_id as order_key,
    o.order_id as source_order_id,
    'olist:' || c.customer_unique_id as customer_key,
    case o.order_status
        when 'created' then 'placed'
        when 'approved' then 'paid'
        when 'invoiced' then 'paid'
        when 'processing' then 'processing'
        when 'shipped' then 'shipped'
        when 'delivered' then 'delivered'
        when 'canceled' then 'cancelled'
        when 'unavailable' then 'cancelled'
        else 'unknown'
    end as status,
    o.order_status as source_status,
    o.purchased_at as ordered_at,
    o.approved_at as paid_at,
    o.shipped_at,
    o.delivered_at,
    o.estimated_delivery_at,
    'BRL' as currency,
    coalesce(i.item_count, 0) as item_count,
    {{ money('coalesce(i.items_amount, 0)') }} as gross_amount,
    {{ money('0') }} as discount_amount,
    {{ money('coalesce(i.items_amount, 0)') }} as items_amount,
    {{ money('coalesce(i.shipping_amount, 0)') }} as shipping_amount,
    {{ money('0') }} as fee_amount,
    {{ money('0') }} as tax_amount,
    {{ money('coalesce(i.items_amount, 0) + coalesce(i.shipping_amount, 0)') }} as order_amount,
    {{ money('coalesce(p.paid_amount, 0)') }} as paid_amount,
    coalesce(p.payment_count, 0) as payment_count,
    coalesce(p.paid_with_voucher, false) as paid_with_voucher
from {{ ref('stg_olist__orders') }} o
left join {{ ref('stg_olist__customers') }} c on c.customer_id = o.customer_id
left join olist_items i on i.order_id = o.order_id
left join olist_payments p on p.order_id = o.order_id
),
all_orders as (
    select {{ order_columns() }} from olist
    union all
    select {{ order_columns() }} from {{ ref('stg_shopify__orders') }}
    union all
    select {{ order_columns() }} from {{ ref('stg_woocommerce__orders') }}
    union all
    select {{ order_columns() }} from {{ ref('stg_oms__orders') }}
),
refunded as (
    select order_key, sum(amount) as refunded_amount, sum(tax_amount) as refunded_tax
    from {{ ref('refunds') }}
    group by order_key
)
select
    o.*,
    o.status not in ('cancelled', 'failed') as is_sale,
    {{ money('o.order_amount - o.tax_amount') }} as revenue,
    {{ money('coalesce(r.refunded_amount, 0)') }} as refunded_amount,
    {{ money('coalesce(r.refunded_tax, 0)') }} as refunded_tax,
    '{{ var("reporting_currency") }}' as reporting_currency,
    order_rate.usd_per_unit / reporting_rate.usd_per_unit as exchange_rate,
    {{ money('o.order_amount * order_rate.usd_per_unit / reporting_rate.usd_per_unit') }} as order_amount_reporting,
    {{ money('(o.order_amount - o.tax_amount) * order_rate.usd_per_unit / reporting_rate.usd_per_unit') }} as revenue_reporting
from all_orders o
left join refunded r on r.order_key = o.order_key
left join {{ ref('exchange_rates') }} order_rate
  on order_rate.currency = o.currency and order_rate.rate_date = cast(o.ordered_at as date)
left join {{ ref('exchange_rates') }} reporting_rate
  on reporting_rate.currency = '{{ var("reporting_currency") }}' and reporting_rate.rate_date = cast(o.ordered_at as date)
