-- Per region, country, state and city of the customer's location, and month.
with lines as (
    select f.*, c.region, c.country, c.state, c.city,
           cast(date_trunc('month', f.event_date) as date) as month
    from {{ ref('fct_sales') }} f
    left join {{ ref('dim_customers') }} c on c.customer_id = f.customer_id
),
per_city as (
    select
        region, country, state, city, month,
        count(distinct case when line_type = 'sale' then order_id end) as orders,
        -- Buyers: a customer whose only activity in the month was a return is not one.
        count(distinct case when line_type = 'sale' then customer_id end) as customers,
        sum(net_revenue) as net_revenue
    from lines
    group by region, country, state, city, month
)
select
    region, country, state, city, month, orders, customers,
    {{ money('net_revenue') }} as net_revenue,
    {{ ratio('net_revenue', 'sum(net_revenue) over (partition by month)') }} * 100.0 as share_of_total_pct
from per_city
