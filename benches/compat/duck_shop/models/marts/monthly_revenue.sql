select
    order_month,
    strftime(order_month, '%Y-%m') as month_label,
    count(*) as orders,
    sum(amount) filter (where status = 'completed') as completed_revenue,
    sum(paid) as paid,
    count(distinct customer_id) as customers
from {{ ref('order_facts') }}
group by 1, 2
