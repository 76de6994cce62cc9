-- Per hour (ordered_at truncated to the hour) and channel; cancelled orders excluded.
select
    date_trunc('hour', ordered_at) as order_hour,
    channel,
    count(*) as orders,
    sum(units) as units,
    {{ money('sum(net_revenue)') }} as net_revenue
from {{ ref('fct_orders') }}
where not is_cancelled
group by 1, 2
