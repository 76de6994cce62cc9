-- Shopify refunds: the API's refunds with the money their successful refund transactions
-- returned, and the tax in their refund_line_items; the CSV export only has an order's
-- "Refunded Amount", dated at the order and with the order's tax share (pro rata).
with refunds as (
    select order_id, currency, unnest(json_get_array(refunds)) as refund
    from {{ ref('stg_shopify__api_orders') }}
),
transactions as (
    select refund_id, sum(case when json_get_str(t, 'kind') = 'refund' and json_get_str(t, 'status') = 'success'
                               then {{ json_money('t', "'amount'") }} else 0 end) as amount
    from (select cast(json_get_int(refund, 'id') as varchar) as refund_id,
                 unnest(json_get_array(refund, 'transactions')) as t from refunds)
    group by refund_id
),
refund_lines as (
    select refund_id,
        sum(coalesce({{ json_money('l', "'total_tax_set', 'presentment_money', 'amount'") }}, 0)) as tax_amount,
        sum(json_get_int(l, 'quantity')) as quantity
    from (select cast(json_get_int(refund, 'id') as varchar) as refund_id,
                 unnest(json_get_array(refund, 'refund_line_items')) as l from refunds)
    group by refund_id
),
api as (
    select
        cast(json_get_int(r.refund, 'id') as varchar) as refund_id,
        r.order_id,
        {{ utc_timestamp("json_get_str(r.refund, 'created_at')") }} as refunded_at,
        coalesce(t.amount, 0) as amount,
        coalesce(l.tax_amount, 0) as tax_amount,
        coalesce(l.quantity, 0) as quantity,
        json_get_str(r.refund, 'note') as reason,
        r.currency
    from refunds r
    left join transactions t on t.refund_id = cast(json_get_int(r.refund, 'id') as varchar)
    left join refund_lines l on l.refund_id = cast(json_get_int(r.refund, 'id') as varchar)
),
csv as (
    select distinct
        coalesce(order_id, order_name) || ':refunded' as refund_id,
        coalesce(order_id, order_name) as order_id,
        created_at as refunded_at,
        refunded_amount as amount,
        case when order_amount = 0 then 0 else refunded_amount * tax_amount / order_amount end as tax_amount,
        cast(null as bigint) as quantity,
        cast(null as varchar) as reason,
        currency
    from {{ ref('stg_shopify__export_lines') }}
    where refunded_amount > 0
      and coalesce(order_id, order_name) not in (select order_id from {{ ref('stg_shopify__api_orders') }})
)
select
    'shopify' as source_platform,
    'shopify:' || refund_id as refund_key,
    'shopify:' || order_id as order_key,
    refunded_at,
    {{ money('amount') }} as amount,
    {{ money('tax_amount') }} as tax_amount,
    cast(quantity as bigint) as quantity,
    reason,
    currency
from (select * from api union all select * from csv)
