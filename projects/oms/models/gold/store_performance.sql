-- Per location and month: actual net revenue (after returns) against the month's target.
with actual as (
    select location_id, cast(date_trunc('month', event_date) as date) as month, sum(net_revenue) as actual
    from {{ ref('fct_sales') }}
    group by 1, 2
),
months as (
    select location_id, month from actual
    union
    select location_id, month from {{ ref('sales_targets') }}
)
select
    m.location_id, l.city, l.state, l.region, m.month,
    {{ money('coalesce(a.actual, 0)') }} as actual_net_revenue,
    t.target_amount as target,
    {{ ratio('coalesce(a.actual, 0)', 't.target_amount') }} * 100.0 as attainment_pct
from months m
left join actual a on a.location_id = m.location_id and a.month = m.month
left join {{ ref('sales_targets') }} t on t.location_id = m.location_id and t.month = m.month
left join {{ ref('dim_locations') }} l on l.location_id = m.location_id
