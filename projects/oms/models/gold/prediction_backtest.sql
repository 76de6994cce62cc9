-- How well customer_predictions forecasts: the backtest (prediction_backtest_customers) summed up
-- per metric, the model next to a naive baseline and the bar the model must clear.
{% set holdout = var('prediction_holdout_days') %}
{% set recent = var('prediction_baseline_recent_days') %}
{% set floors = var('prediction_floors') %}
with scored as (
    select *, case when baseline_active then 1.0 else 0.0 end as baseline_score
    from {{ ref('prediction_backtest_customers') }}
),
ranked as (
    select
        came_back,
        {{ average_rank('p_active') }} as model_rank,
        {{ average_rank('baseline_score') }} as baseline_rank
    from scored
),
auc as (
    select
        {{ auc_from_ranks('model_rank', 'came_back') }} as model,
        {{ auc_from_ranks('baseline_rank', 'came_back') }} as baseline
    from ranked
),
stats as (
    select
        count(*) as customers,
        coalesce(sum(case when came_back then 1 else 0 end), 0) as came_back,
        -- Rounded: sums of doubles differ in their last digits with the order rows arrive in.
        round(sum(p_active), 6) as expected_back,
        max(cutoff_date) as cutoff_date,
        round(avg(abs(predicted_value - actual_value)), 6) as model_mae,
        round(avg(abs(baseline_value - actual_value)), 6) as baseline_mae
    from scored
),
judged as (
    -- Too short a history (or everyone, or no one, came back) measures nothing.
    select *, customers >= 100 and came_back >= 20 and customers - came_back >= 20 as enough_history
    from stats
)
select
    'churn_auc' as metric,
    'ROC AUC of p_active for ordering again within the holdout (higher is better)' as meaning,
    auc.model,
    auc.baseline,
    'recent customers stay: ordered in the {{ recent }} days before the cutoff' as baseline_rule,
    -- The bar: an absolute floor, and a margin over the baseline (which so never reaches it).
    greatest(cast({{ floors['churn_auc'] }} as double), auc.baseline + {{ floors['churn_auc_margin'] }}) as floor,
    customers, came_back, expected_back, enough_history, cutoff_date,
    {{ holdout }} as holdout_days
from judged cross join auc
union all
select
    'value_mae',
    'mean absolute error of each customer''s order value in the holdout (lower is better)',
    model_mae,
    baseline_mae,
    'the next {{ holdout }} days repeat the {{ holdout }} before the cutoff',
    -- A ceiling: this share of the baseline's error.
    baseline_mae * {{ floors['value_mae_vs_baseline'] }},
    customers, came_back, expected_back, enough_history, cutoff_date,
    {{ holdout }}
from judged
