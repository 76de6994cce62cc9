-- Categories (in English) per platform and for all platforms: units, orders, products sold and
-- revenue in the reporting currency, with the category's share of its platform's revenue.
-- Lines of a product without a category count as 'uncategorised'.
with lines as (
    select
        i.source_platform,
        coalesce(p.category_english, i.category, 'uncategorised') as category,
        i.product_key, i.order_key, i.quantity,
        i.line_amount * o.exchange_rate as revenue_reporting
    from {{ ref('order_items') }} i
    join {{ ref('orders') }} o on o.order_key = i.order_key
    left join {{ ref('products') }} p on p.product_key = i.product_key
    where o.is_sale
),
per_platform as (
    select source_platform, category, sum(quantity) as units, count(distinct order_key) as orders,
        count(distinct product_key) as products, sum(revenue_reporting) as revenue_reporting
    from lines
    group by source_platform, category
),
everything as (
    select * from per_platform
    union all
    select 'all', category, sum(units), sum(orders), sum(products), sum(revenue_reporting)
    from per_platform
    group by category
)
select
    source_platform, category, units, orders, products,
    '{{ var("reporting_currency") }}' as reporting_currency,
    {{ money('revenue_reporting') }} as revenue_reporting,
    revenue_reporting / sum(revenue_reporting) over (partition by source_platform) as revenue_share
from everything
