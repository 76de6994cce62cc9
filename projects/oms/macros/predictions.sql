{#- Each customer's order history as of `cutoff` (a SQL date), in the shape the BG/NBD and
    Gamma-Gamma window functions take. Purchases are non-cancelled orders placed before the
    cutoff; their value is what was ordered (gross − discount, ex VAT), known when the order is
    placed, so a backtest never sees billing that happened after its cutoff. Times are fractional
    days between order timestamps, so several orders on one day are several purchases. -#}
{% macro customer_histories(cutoff) -%}
    select
        customer_id,
        count(*) as orders,
        count(*) - 1 as repeat_orders,
        cast(min(ordered_at) as date) as first_order_date,
        cast(max(ordered_at) as date) as last_order_date,
        (date_part('epoch', max(ordered_at)) - date_part('epoch', min(ordered_at))) / 86400.0 as lifespan_days,
        (date_part('epoch', cast({{ cutoff }} as timestamp)) - date_part('epoch', min(ordered_at))) / 86400.0 as tenure_days,
        (date_part('epoch', cast({{ cutoff }} as timestamp)) - date_part('epoch', max(ordered_at))) / 86400.0 as days_since_last_order,
        -- Decimal sums are exact, so the value does not depend on the order rows arrive in.
        cast(avg(gross_amount - discount_amount) as double) as average_order_value
    from {{ ref('fct_orders') }}
    where not is_cancelled and ordered_at < cast({{ cutoff }} as timestamp)
    group by customer_id
{%- endmacro %}

{#- The model's predictions for `histories` (a relation or CTE from customer_histories):
    p_alive, p_active (some order within `horizon_days`), expected orders within
    `value_horizon_days`, and the expected value of one order. Fitted on all the rows. -#}
{% macro customer_model_predictions(histories, horizon_days, value_horizon_days) -%}
    select
        h.*,
        bgnbd_p_alive(repeat_orders, lifespan_days, tenure_days) over () as p_alive,
        bgnbd_p_active(repeat_orders, lifespan_days, tenure_days, {{ horizon_days }}) over () as p_active,
        bgnbd_expected_orders(repeat_orders, lifespan_days, tenure_days, {{ value_horizon_days }}) over () as expected_orders,
        gamma_gamma_expected_value(orders, average_order_value) over () as expected_order_value
    from {{ histories }} h
{%- endmacro %}

{#- The rank of `score` among the rows, ties sharing their average rank: a window expression,
    the first half of a ROC AUC (see auc_from_ranks). -#}
{% macro average_rank(score) -%}
    (rank() over (order by {{ score }}) + (count(*) over (partition by {{ score }}) - 1) / 2.0)
{%- endmacro %}

{#- ROC AUC from the average ranks of a score (average_rank) and the boolean `label`: the
    Mann–Whitney statistic, an aggregate expression; null unless both classes are present.
    Integer and half-integer sums, so it comes out the same whatever the row order. -#}
{% macro auc_from_ranks(rank, label) -%}
    (sum(case when {{ label }} then {{ rank }} else 0 end)
        - count(case when {{ label }} then 1 end) * (count(case when {{ label }} then 1 end) + 1) / 2.0)
    / nullif(cast(count(case when {{ label }} then 1 end) as double) * count(case when not {{ label }} then 1 end), 0)
{%- endmacro %}
