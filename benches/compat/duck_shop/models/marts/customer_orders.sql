select
    customer_id,
    count(*) as orders,
    count_if(status = 'completed') as completed_orders,
    sum(amount) as revenue,
    min(ordered_on) as first_order,
    max(ordered_on) as last_order,
    arg_max(status, ordered_on) as last_status,
    date_diff('day', min(ordered_on), max(ordered_on)) as active_days
from {{ ref('order_facts') }}
group by all
