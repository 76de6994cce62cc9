-- One row per grain (day, week, month) and period. A return counts in the period it was returned.
{% set grains = ['day', 'week', 'month'] %}
with lines as (
    select *, cast(event_at as date) as day from {{ ref('fct_sales') }}
),
{% for grain in grains %}
by_{{ grain }} as (
    select
        '{{ grain }}' as grain,
        cast(date_trunc('{{ grain }}', day) as date) as period_start,
        count(distinct case when line_type = 'sale' then order_id end) as orders,
        sum(case when line_type = 'sale' then quantity else 0 end) as units_sold,
        -sum(case when line_type = 'return' then quantity else 0 end) as units_returned,
        sum(case when line_type = 'sale' then gross_amount else 0 end) as gross_amount,
        sum(case when line_type = 'sale' then discount_amount else 0 end) as discount_amount,
        -sum(case when line_type = 'return' then net_revenue else 0 end) as returns_amount,
        sum(net_revenue) as net_revenue,
        sum(vat_amount) as vat_amount,
        sum(cost_amount) as cost_amount,
        sum(gross_profit) as gross_profit
    from lines
    group by 1, 2
){{ "," if not loop.last }}
{% endfor %}
select
    grain, period_start, orders, units_sold, units_returned,
    {{ money('gross_amount') }} as gross_amount,
    {{ money('discount_amount') }} as discount_amount,
    {{ money('returns_amount') }} as returns_amount,
    {{ money('net_revenue') }} as net_revenue,
    {{ money('vat_amount') }} as vat_amount,
    {{ money('cost_amount') }} as cost_amount,
    {{ money('gross_profit') }} as gross_profit,
    {{ ratio('gross_profit', 'net_revenue') }} * 100.0 as margin_pct
from (
    {% for grain in grains %}
    select * from by_{{ grain }}{{ " union all" if not loop.last }}
    {% endfor %}
) s
