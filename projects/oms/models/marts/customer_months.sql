-- One row per customer and month with activity: the non-cancelled orders placed that month and
-- the net revenue of the sales (and returns) dated that month. Keyed by customer: a new order or
-- sale recomputes that customer's months only, and the cohort table is built from this one
-- instead of from every order line.
with activity as (
    select
        customer_id,
        cast(date_trunc('month', ordered_at) as date) as month,
        1 as orders,
        cast(0 as decimal(18, 2)) as net_revenue
    from {{ ref('fct_orders') }}
    where not is_cancelled
    union all
    select
        customer_id,
        cast(date_trunc('month', event_date) as date) as month,
        0 as orders,
        net_revenue
    from {{ ref('fct_sales') }}
)
select customer_id, month, sum(orders) as orders, sum(net_revenue) as net_revenue
from activity
group by customer_id, month
