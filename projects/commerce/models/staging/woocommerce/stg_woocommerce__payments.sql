-- A paid WooCommerce order's payment, by its payment method's id (bacs, cod, paystack, ...).
select
    o.source_platform, o.order_key, cast(1 as bigint) as payment_no,
    coalesce(lower(a.payment_method_id), 'unknown') as method, cast(1 as bigint) as installments,
    o.paid_amount as amount, o.currency
from {{ ref('stg_woocommerce__orders') }} o
join {{ ref('stg_woocommerce__api_orders') }} a on 'woocommerce:' || a.order_id = o.order_key
where o.payment_count > 0
