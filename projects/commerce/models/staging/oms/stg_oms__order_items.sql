-- OMS sale lines in the universal shape, with the product's category.
select
    'oms' as source_platform,
    'oms:' || cast(s.order_id as varchar) as order_key,
    cast(s.line_no as varchar) as line_no,
    'oms:' || cast(s.product_id as varchar) as product_key,
    'oms:desk' as store_key,
    p.product_name,
    p.category,
    s.quantity,
    {{ money('s.unit_price') }} as unit_price,
    {{ money('s.discount_amount') }} as discount_amount,
    {{ money('s.net_revenue') }} as line_amount,
    {{ money('0') }} as shipping_amount,
    '{{ var("oms_currency") }}' as currency
from {{ ref('stg_oms__sales') }} s
left join {{ ref('stg_oms__products') }} p on p.product_key = 'oms:' || cast(s.product_id as varchar)
where s.line_type = 'sale'
