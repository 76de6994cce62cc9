-- Per hour (ordered_at truncated to the hour) and channel: the orders that became sales (billed,
-- shipped or delivered), their units and net revenue — one basis for all three columns.
select
    date_trunc('hour', ordered_at) as order_hour,
    channel,
    count(*) as orders,
    sum(units) as units,
    {{ money('sum(net_revenue)') }} as net_revenue
from {{ ref('fct_orders') }}
where status in ('billed', 'shipped', 'delivered')
group by 1, 2
