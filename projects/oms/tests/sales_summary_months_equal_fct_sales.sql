-- Cross-model invariant: each month of sales_summary equals fct_sales summed by that month.
-- An invariant between models built from the same facts, not proof that either is right: the values are checked against an independent computation from the landing files in crates/cli/tests/integration/oms.rs.
with summary as (
    select period_start as month, net_revenue, units_sold, cost_amount
    from {{ ref('sales_summary') }} where grain = 'month'
),
facts as (
    select
        cast(date_trunc('month', event_date) as date) as month,
        cast(sum(net_revenue) as decimal(18, 2)) as net_revenue,
        sum(case when line_type = 'sale' then quantity else 0 end) as units_sold,
        cast(sum(cost_amount) as decimal(18, 2)) as cost_amount
    from {{ ref('fct_sales') }}
    group by 1
)
select coalesce(s.month, f.month) as month, s.net_revenue, f.net_revenue as fact_net_revenue
from summary s
full outer join facts f on f.month = s.month
where s.month is null or f.month is null
   or s.net_revenue <> f.net_revenue or s.units_sold <> f.units_sold or s.cost_amount <> f.cost_amount
