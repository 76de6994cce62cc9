-- Per month and reason: returns (by the month returned) and cancellations (by the month ordered).
with returns as (
    select
        cast(date_trunc('month', event_date) as date) as month,
        return_reason as reason,
        count(distinct return_id) as returns,
        -sum(quantity) as units_returned,
        -sum(net_revenue) as refunded_amount
    from {{ ref('fct_sales') }}
    where line_type = 'return'
    group by 1, 2
),
cancelled as (
    select
        cast(date_trunc('month', o.ordered_at) as date) as month,
        coalesce(o.cancel_reason, 'unknown') as reason,
        count(*) as cancelled_orders,
        sum(coalesce(l.amount, 0)) as cancelled_amount
    from {{ ref('orders') }} o
    left join (select order_id, sum(net_amount) as amount from {{ ref('order_lines') }} group by order_id) l
        on l.order_id = o.order_id
    where o.status = 'cancelled'
    group by 1, 2
),
sales as (
    select cast(date_trunc('month', event_date) as date) as month, sum(net_revenue) as sales
    from {{ ref('fct_sales') }}
    where line_type = 'sale'
    group by 1
),
keys as (
    select month, reason from returns
    union
    select month, reason from cancelled
)
select
    k.month, k.reason,
    coalesce(r.returns, 0) as returns,
    coalesce(r.units_returned, 0) as units_returned,
    {{ money('coalesce(r.refunded_amount, 0)') }} as refunded_amount,
    coalesce(c.cancelled_orders, 0) as cancelled_orders,
    {{ money('coalesce(c.cancelled_amount, 0)') }} as cancelled_amount,
    {{ ratio('coalesce(r.refunded_amount, 0)', 's.sales') }} * 100.0 as reversal_rate_pct
from keys k
left join returns r on r.month = k.month and r.reason = k.reason
left join cancelled c on c.month = k.month and c.reason = k.reason
left join sales s on s.month = k.month
