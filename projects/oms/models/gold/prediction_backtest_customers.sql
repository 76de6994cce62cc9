-- The backtest of customer_predictions, per customer: the models fitted on the history before
-- the cutoff (as_of_date − prediction_holdout_days), what they predicted for the holdout, what a
-- naive baseline predicted, and what the customer then did up to as_of_date (docs/predictions.md).
{% set holdout = var('prediction_holdout_days') %}
{% set cutoff = as_of_date() ~ " - interval '" ~ holdout ~ " days'" %}
with histories as (
    {{ customer_histories(cutoff) }}
),
predicted as (
    {{ customer_model_predictions('histories', holdout, holdout) }}
),
holdout_orders as (
    select customer_id, count(*) as orders, cast(sum(gross_amount - discount_amount) as double) as order_value
    from {{ ref('fct_orders') }}
    where not is_cancelled
      and ordered_at >= cast({{ cutoff }} as timestamp)
      and ordered_at < cast({{ as_of_date() }} as timestamp)
    group by customer_id
),
before_orders as (
    -- The value baseline's view: what each customer ordered in as long a time before the cutoff.
    select customer_id, cast(sum(gross_amount - discount_amount) as double) as order_value
    from {{ ref('fct_orders') }}
    where not is_cancelled
      and ordered_at >= cast({{ cutoff }} - interval '{{ holdout }} days' as timestamp)
      and ordered_at < cast({{ cutoff }} as timestamp)
    group by customer_id
)
select
    p.customer_id,
    cast({{ cutoff }} as date) as cutoff_date,
    p.orders as orders_before,
    p.days_since_last_order,
    p.p_active,
    p.expected_orders,
    p.expected_orders * p.expected_order_value as predicted_value,
    -- "Recent customers stay": ordered in the last recent_days before the cutoff.
    p.days_since_last_order <= {{ var('prediction_baseline_recent_days') }} as baseline_active,
    coalesce(b.order_value, 0) as baseline_value,
    h.customer_id is not null as came_back,
    coalesce(h.orders, 0) as actual_orders,
    coalesce(h.order_value, 0) as actual_value
from predicted p
left join holdout_orders h on h.customer_id = p.customer_id
left join before_orders b on b.customer_id = p.customer_id
