-- One row per customer with at least one non-cancelled order. Definitions: docs/metrics.md.
with orders as (
    select customer_id, count(distinct order_id) as order_count,
           min(cast(ordered_at as date)) as first_order_date,
           max(cast(ordered_at as date)) as last_order_date
    from {{ ref('fct_orders') }}
    where not is_cancelled
    group by customer_id
),
lines as (
    select
        customer_id,
        sum(case when line_type = 'sale' then net_revenue else 0 end) as sales_revenue,
        count(distinct case when line_type = 'sale' then order_id end) as orders_with_sales,
        -sum(case when line_type = 'return' then net_revenue else 0 end) as refunded_amount,
        sum(case when line_type = 'sale' then quantity else 0 end) as units_sold,
        -sum(case when line_type = 'return' then quantity else 0 end) as units_returned
    from {{ ref('fct_sales') }}
    group by customer_id
),
joined as (
    select
        o.customer_id, c.customer_name, o.order_count,
        coalesce(l.sales_revenue, 0) as sales_revenue,
        coalesce(l.orders_with_sales, 0) as orders_with_sales,
        coalesce(l.refunded_amount, 0) as refunded_amount,
        coalesce(l.units_sold, 0) as units_sold,
        coalesce(l.units_returned, 0) as units_returned,
        o.first_order_date, o.last_order_date,
        {{ days_between('o.first_order_date', 'o.last_order_date') }} as lifespan_days
    from orders o
    left join lines l on l.customer_id = o.customer_id
    left join {{ ref('dim_customers') }} c on c.customer_id = o.customer_id
)
select
    customer_id, customer_name, order_count,
    {{ money('sales_revenue') }} as sales_revenue,
    {{ money('refunded_amount') }} as refunded_amount,
    {{ money('sales_revenue - refunded_amount') }} as clv,
    -- Average order value over the orders that became sales (raised or held orders have no value yet).
    {{ money('case when orders_with_sales = 0 then 0 else sales_revenue / orders_with_sales end') }} as aov,
    units_sold, units_returned,
    coalesce({{ ratio('units_returned', 'units_sold') }}, 0.0) as return_rate,
    first_order_date, last_order_date, lifespan_days,
    cast(order_count as double) / greatest(1.0, cast(lifespan_days as double) / 30.0) as purchase_frequency
from joined
