-- RFM scores and segments. Definitions: docs/metrics.md, "RFM segmentation".
with base as (
    select
        customer_id, customer_name,
        {{ days_between('last_order_date', as_of_date()) }} as recency_days,
        order_count as frequency,
        clv as monetary
    from {{ ref('customer_metrics') }}
),
scored as (
    select
        *,
        ntile(5) over (order by recency_days desc, customer_id asc) as r_score,
        ntile(5) over (order by frequency asc, customer_id asc) as f_score,
        ntile(5) over (order by monetary asc, customer_id asc) as m_score
    from base
)
select
    customer_id, customer_name, recency_days, frequency, monetary, r_score, f_score, m_score,
    cast(r_score as varchar) || cast(f_score as varchar) || cast(m_score as varchar) as rfm_code,
    case
        when r_score >= 4 and f_score >= 4 then 'Champions'
        when r_score >= 3 and f_score >= 3 then 'Loyal'
        when r_score >= 4 and f_score <= 2 then 'New'
        when r_score <= 2 and f_score >= 3 then 'At Risk'
        when r_score = 1 and f_score <= 2 then 'Lost'
        else 'Needs Attention'
    end as segment
from scored
