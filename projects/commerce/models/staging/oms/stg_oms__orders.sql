-- OMS orders (gold.fct_orders of the bundled OMS project) in the universal shape, in the OMS's
-- currency (var oms_currency). The desk bills on credit: an order's money is its invoice (net
-- revenue plus VAT of its sale lines); what was paid against it is its payments so far.
-- Statuses: raised → placed, on_hold, billed → paid (invoiced), shipped, delivered, cancelled.
with sale_lines as (
    select order_id, sum(quantity) as units, sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount, sum(net_revenue) as net_revenue, sum(vat_amount) as vat_amount
    from {{ ref('stg_oms__sales') }}
    where line_type = 'sale'
    group by order_id
),
orders as (
    select * from {{ optional_table('oms', 'fct_orders', {
        'order_id': 'bigint', 'customer_id': 'bigint', 'status': 'varchar', 'ordered_at': 'timestamp',
        'gross_amount': 'decimal(18, 2)', 'discount_amount': 'decimal(18, 2)', 'paid_amount': 'decimal(18, 2)',
        'first_shipped_at': 'timestamp', 'delivered_at': 'timestamp'}) }} o
)
select
    'oms' as source_platform,
    'oms:' || cast(o.order_id as varchar) as order_key,
    cast(o.order_id as varchar) as source_order_id,
    'oms:' || cast(o.customer_id as varchar) as customer_key,
    case o.status
        when 'raised' then 'placed'
        when 'on_hold' then 'on_hold'
        when 'billed' then 'paid'
        when 'shipped' then 'shipped'
        when 'delivered' then 'delivered'
        when 'cancelled' then 'cancelled'
        else 'unknown'
    end as status,
    o.status as source_status,
    o.ordered_at,
    cast(null as timestamp) as paid_at,
    o.first_shipped_at as shipped_at,
    o.delivered_at,
    cast(null as timestamp) as estimated_delivery_at,
    '{{ var("oms_currency") }}' as currency,
    cast(coalesce(s.units, 0) as bigint) as item_count,
    {{ money('coalesce(s.gross_amount, o.gross_amount, 0)') }} as gross_amount,
    {{ money('coalesce(s.discount_amount, o.discount_amount, 0)') }} as discount_amount,
    {{ money('coalesce(s.net_revenue, 0)') }} as items_amount,
    {{ money('0') }} as shipping_amount,
    {{ money('0') }} as fee_amount,
    {{ money('coalesce(s.vat_amount, 0)') }} as tax_amount,
    {{ money('coalesce(s.net_revenue, 0) + coalesce(s.vat_amount, 0)') }} as order_amount,
    {{ money('coalesce(o.paid_amount, 0)') }} as paid_amount,
    cast(case when coalesce(o.paid_amount, 0) > 0 then 1 else 0 end as bigint) as payment_count,
    false as paid_with_voucher
from orders o
left join sale_lines s on s.order_id = o.order_id
