-- RFM per person and platform: recency (days from their last sale to the platform's latest
-- order day), frequency (sales) and monetary value (CLV in the reporting currency), each
-- scored 1–5 — recency and monetary by quintile within the platform, frequency by count (1, 2,
-- 3, 4, 5+ orders: most shoppers buy once, so quintiles of it would be arbitrary) — and a
-- segment: champions (R≥4, F≥3), loyal (F≥3), promising (R≥4), at_risk (R≤2, M≥4),
-- hibernating (R≤2), needs_attention (the rest).
with latest as (
    select source_platform, max(cast(ordered_at as date)) as as_of_date
    from {{ ref('orders') }}
    group by source_platform
),
measured as (
    select
        c.source_platform, c.customer_key,
        datediff('day', cast(c.last_ordered_at as date), l.as_of_date) as recency_days,
        c.orders as frequency,
        c.clv_reporting as monetary_reporting
    from {{ ref('customer_value') }} c
    join latest l on l.source_platform = c.source_platform
),
scored as (
    select
        *,
        6 - ntile(5) over (partition by source_platform order by recency_days, customer_key) as r_score,
        least(frequency, 5) as f_score,
        ntile(5) over (partition by source_platform order by monetary_reporting, customer_key) as m_score
    from measured
)
select
    *,
    case
        when r_score >= 4 and f_score >= 3 then 'champions'
        when f_score >= 3 then 'loyal'
        when r_score >= 4 then 'promising'
        when r_score <= 2 and m_score >= 4 then 'at_risk'
        when r_score <= 2 then 'hibernating'
        else 'needs_attention'
    end as segment
from scored
