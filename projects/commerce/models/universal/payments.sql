-- One row per payment of every platform, with its method and installments.
with olist as (
    select
        'olist' as source_platform,
        'olist:' || p.order_id as order_key,
        cast(p.payment_sequential as bigint) as payment_no,
        p.payment_type as method,
        cast(p.payment_installments as bigint) as installments,
        p.payment_value as amount,
        'BRL' as currency
    from {{ ref('stg_olist__payments') }} p
    join {{ ref('stg_olist__orders') }} o on o.order_id = p.order_id
)
select {{ payment_columns() }} from olist
union all
select {{ payment_columns() }} from {{ ref('stg_shopify__payments') }}
union all
select {{ payment_columns() }} from {{ ref('stg_woocommerce__payments') }}
union all
select {{ payment_columns() }} from {{ ref('stg_oms__payments') }}
