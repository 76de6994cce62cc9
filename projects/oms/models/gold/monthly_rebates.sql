-- Per customer and month: net units and net sales (after returns, each in its own month), and the
-- rebate when net units reach `rebate_min_units`.
{% set rate = "cast(" ~ var('rebate_rate', 0.05) ~ " as decimal(10, 6))" %}
with monthly as (
    select
        customer_id,
        cast(date_trunc('month', event_date) as date) as month,
        sum(quantity) as net_units,
        sum(net_revenue) as net_sales
    from {{ ref('fct_sales') }}
    group by 1, 2
)
select
    m.customer_id, c.customer_name, m.month, m.net_units,
    {{ money('m.net_sales') }} as net_sales,
    cast(case when m.net_units >= {{ var('rebate_min_units', 1000) }} then {{ rate }} else cast(0 as decimal(10, 6)) end as double) as rebate_rate,
    {{ money('m.net_sales * case when m.net_units >= ' ~ var('rebate_min_units', 1000) ~ ' then ' ~ rate ~ ' else 0 end') }} as rebate_amount
from monthly m
left join {{ ref('dim_customers') }} c on c.customer_id = m.customer_id
