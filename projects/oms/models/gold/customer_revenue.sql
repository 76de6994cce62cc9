-- The seed's `customerrevenue`: revenue = sales_revenue of customer_metrics.
select customer_id, customer_name, order_count, sales_revenue as revenue
from {{ ref('customer_metrics') }}
