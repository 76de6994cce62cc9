-- Cohort retention per platform and for all platforms: customers grouped by the month of their
-- first sale; for each later month, how many of them bought again and what share of the cohort
-- that is (month 0 is the cohort itself, retention 1).
with sales as (
    select source_platform, customer_key, cast(date_trunc('month', ordered_at) as date) as month
    from {{ ref('orders') }}
    where is_sale and customer_key is not null and ordered_at is not null
),
firsts as (
    select source_platform, customer_key, min(month) as cohort_month
    from sales
    group by source_platform, customer_key
),
activity as (
    select distinct
        f.source_platform, f.customer_key, f.cohort_month,
        (extract(year from s.month) - extract(year from f.cohort_month)) * 12
            + extract(month from s.month) - extract(month from f.cohort_month) as months_since
    from firsts f
    join sales s on s.source_platform = f.source_platform and s.customer_key = f.customer_key
),
per_platform as (
    select source_platform, cohort_month, cast(months_since as bigint) as months_since, count(*) as active_customers
    from activity
    group by source_platform, cohort_month, months_since
),
all_platforms as (
    select 'all' as source_platform, cohort_month, months_since, sum(active_customers) as active_customers
    from per_platform
    group by cohort_month, months_since
),
cohorts as (
    select * from per_platform
    union all
    select * from all_platforms
)
select
    c.source_platform,
    c.cohort_month,
    c.months_since,
    c.active_customers,
    size.active_customers as cohort_size,
    cast(c.active_customers as double) / size.active_customers as retention
from cohorts c
join cohorts size
  on size.source_platform = c.source_platform and size.cohort_month = c.cohort_month and size.months_since = 0
