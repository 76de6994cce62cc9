-- WooCommerce orders in the universal shape. Statuses: pending → placed, on-hold (awaiting a
-- bank transfer) → on_hold, processing (paid) → processing, completed → shipped (Woo does not
-- know delivery), cancelled → cancelled, refunded → refunded, failed (payment failed) → failed.
-- Fee lines (gift wrap, surcharges) are the order's fees.
with items as (
    select order_key, sum(quantity) as item_count, sum(unit_price * quantity) as gross_amount
    from {{ ref('stg_woocommerce__order_items') }}
    group by order_key
),
fees as (
    select order_id, sum(cast(json_get_str(fee, 'total') as decimal(18, 2))) as fee_amount
    from (select order_id, unnest(json_get_array(fee_lines)) as fee from {{ ref('stg_woocommerce__api_orders') }})
    group by order_id
)
select
    'woocommerce' as source_platform,
    'woocommerce:' || o.order_id as order_key,
    o.order_id as source_order_id,
    'woocommerce:' || coalesce(o.customer_email, o.customer_id) as customer_key,
    case o.status
        when 'pending' then 'placed'
        when 'on-hold' then 'on_hold'
        when 'processing' then 'processing'
        when 'completed' then 'shipped'
        when 'cancelled' then 'cancelled'
        when 'refunded' then 'refunded'
        when 'failed' then 'failed'
        else 'unknown'
    end as status,
    o.status as source_status,
    o.created_at as ordered_at,
    o.paid_at,
    o.completed_at as shipped_at,
    cast(null as timestamp) as delivered_at,
    cast(null as timestamp) as estimated_delivery_at,
    o.currency,
    cast(coalesce(i.item_count, 0) as bigint) as item_count,
    {{ money('coalesce(i.gross_amount, 0)') }} as gross_amount,
    {{ money('o.discount_amount') }} as discount_amount,
    {{ money('coalesce(i.gross_amount, 0) - o.discount_amount') }} as items_amount,
    {{ money('o.shipping_amount') }} as shipping_amount,
    {{ money('coalesce(f.fee_amount, 0)') }} as fee_amount,
    {{ money('o.tax_amount') }} as tax_amount,
    {{ money('o.order_amount') }} as order_amount,
    {{ money('case when o.paid_at is not null then o.order_amount else 0 end') }} as paid_amount,
    cast(case when o.paid_at is not null then 1 else 0 end as bigint) as payment_count,
    false as paid_with_voucher
from {{ ref('stg_woocommerce__api_orders') }} o
left join items i on i.order_key = 'woocommerce:' || o.order_id
left join fees f on f.order_id = o.order_id
