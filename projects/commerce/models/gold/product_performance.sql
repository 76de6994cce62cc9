-- Products per platform: units and orders of sales, revenue (line amounts after discounts) in
-- the order's currency and in the reporting currency, and the product's rank in its platform.
with lines as (
    select i.source_platform, i.product_key, i.order_key, i.quantity, i.line_amount, i.currency,
        i.line_amount * o.exchange_rate as line_amount_reporting
    from {{ ref('order_items') }} i
    join {{ ref('orders') }} o on o.order_key = i.order_key
    where o.is_sale
),
per_product as (
    select source_platform, product_key, currency,
        sum(quantity) as units, count(distinct order_key) as orders,
        sum(line_amount) as revenue, sum(line_amount_reporting) as revenue_reporting
    from lines
    group by source_platform, product_key, currency
)
select
    p.source_platform, p.product_key, pr.product_name, pr.category_english as category,
    p.currency, p.units, p.orders,
    {{ money('p.revenue') }} as revenue,
    {{ money('p.revenue_reporting') }} as revenue_reporting,
    dense_rank() over (partition by p.source_platform order by p.revenue_reporting desc nulls last) as revenue_rank
from per_product p
left join {{ ref('products') }} pr on pr.product_key = p.product_key
