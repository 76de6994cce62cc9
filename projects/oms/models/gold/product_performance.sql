-- Per product that has sales. Definitions: docs/metrics.md, "Product performance".
with per_product as (
    select
        product_id,
        sum(case when line_type = 'sale' then quantity else 0 end) as units_sold,
        -sum(case when line_type = 'return' then quantity else 0 end) as units_returned,
        sum(net_revenue) as net_revenue,
        sum(cost_amount) as cost_amount,
        sum(gross_profit) as gross_profit
    from {{ ref('fct_sales') }}
    group by product_id
)
select
    p.product_id, d.description, d.brand, d.category,
    p.units_sold, p.units_returned,
    coalesce({{ ratio('p.units_returned', 'p.units_sold') }}, 0.0) as return_rate,
    {{ money('p.net_revenue') }} as net_revenue,
    {{ money('p.cost_amount') }} as cost_amount,
    {{ money('p.gross_profit') }} as gross_profit,
    {{ ratio('p.gross_profit', 'p.net_revenue') }} * 100.0 as margin_pct,
    dense_rank() over (order by p.net_revenue desc) as revenue_rank,
    dense_rank() over (partition by d.category order by p.net_revenue desc) as category_rank
from per_product p
left join {{ ref('dim_products') }} d on d.product_id = p.product_id
