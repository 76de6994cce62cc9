select
    order_id,
    customer_id,
    amount,
    rank() over (partition by customer_id order by amount desc) as rank_in_customer,
    sum(amount) over (partition by customer_id order by ordered_on rows between unbounded preceding and current row) as running_revenue,
    lag(ordered_on) over (partition by customer_id order by ordered_on) as previous_order
from {{ ref('order_facts') }}
