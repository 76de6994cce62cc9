-- Customers by the month of their first (non-cancelled) order; for each later month m = 0, 1, 2 …
-- the customers of the cohort with an order that month, and the cohort's net revenue that month.
with activity as (
    select customer_id, month, orders, net_revenue from {{ ref('customer_months') }}
),
cohort_of as (
    select customer_id, min(month) as cohort_month from activity where orders > 0 group by customer_id
),
cohort_size as (
    select cohort_month, count(*) as cohort_customers from cohort_of group by cohort_month
),
active as (
    select c.cohort_month, a.month, count(distinct a.customer_id) as active
    from activity a join cohort_of c on c.customer_id = a.customer_id
    where a.orders > 0
    group by 1, 2
),
revenue as (
    select c.cohort_month, a.month, sum(a.net_revenue) as net_revenue
    from activity a join cohort_of c on c.customer_id = a.customer_id
    group by 1, 2
),
cells as (
    select cohort_month, month from active
    union
    select cohort_month, month from revenue
)
select
    x.cohort_month,
    (cast(date_part('year', x.month) as bigint) - cast(date_part('year', x.cohort_month) as bigint)) * 12
      + cast(date_part('month', x.month) as bigint) - cast(date_part('month', x.cohort_month) as bigint) as month_number,
    x.month,
    s.cohort_customers,
    coalesce(a.active, 0) as active,
    cast(coalesce(a.active, 0) as double) / cast(s.cohort_customers as double) * 100.0 as retention_pct,
    {{ money('coalesce(r.net_revenue, 0)') }} as net_revenue
from cells x
join cohort_size s on s.cohort_month = x.cohort_month
left join active a on a.cohort_month = x.cohort_month and a.month = x.month
left join revenue r on r.cohort_month = x.cohort_month and r.month = x.month
