-- WooCommerce refunds as the order lists them (id, reason, a negative total). The order
-- payload dates no refund: the order's last modification is taken; the tax share is pro rata.
with refunds as (
    select order_id, currency, modified_at, order_amount, tax_amount, unnest(json_get_array(refunds)) as refund
    from {{ ref('stg_woocommerce__api_orders') }}
)
select
    'woocommerce' as source_platform,
    'woocommerce:' || cast(json_get_int(refund, 'id') as varchar) as refund_key,
    'woocommerce:' || order_id as order_key,
    modified_at as refunded_at,
    {{ money("abs(cast(json_get_str(refund, 'total') as decimal(18, 2)))") }} as amount,
    {{ money("case when order_amount = 0 then 0 else abs(cast(json_get_str(refund, 'total') as decimal(18, 2))) * tax_amount / order_amount end") }} as tax_amount,
    cast(null as bigint) as quantity,
    json_get_str(refund, 'reason') as reason,
    currency
from refunds
