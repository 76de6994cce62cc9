-- Per customer with an order before as_of_date: how likely they are to order again within
-- churn_horizon_days, and what the next 12 months of their orders are worth. BG/NBD and
-- Gamma-Gamma fitted on every customer's history (docs/predictions.md).
with histories as (
    {{ customer_histories(as_of_date()) }}
),
predicted as (
    {{ customer_model_predictions('histories', var('churn_horizon_days'), 365) }}
)
select
    p.customer_id, c.customer_name, c.customer_type,
    p.orders, p.first_order_date, p.last_order_date,
    round(p.days_since_last_order, 1) as days_since_last_order,
    round(p.tenure_days, 1) as tenure_days,
    p.p_alive,
    p.p_active as p_active_90d,
    1 - p.p_active as churn_risk,
    case
        when p.p_active >= 0.75 then 'Low risk'
        when p.p_active >= 0.40 then 'Medium risk'
        when p.p_active >= 0.10 then 'High risk'
        else 'Likely lost'
    end as risk_segment,
    p.expected_orders as expected_orders_12m,
    {{ money('p.expected_order_value') }} as expected_order_value,
    {{ money('p.expected_orders * p.expected_order_value') }} as expected_value_12m
from predicted p
left join {{ ref('dim_customers') }} c on c.customer_id = p.customer_id
