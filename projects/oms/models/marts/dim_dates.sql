-- One row per day from the first order to the as-of date.
with bounds as (
    select cast(min(ordered_at) as date) as first_day from {{ ref('orders') }}
),
days as (
    -- Day numbers since the epoch, so the spine needs no date series function.
    select cast(cast(cast(b.first_day as int) + cast(r.value as int) as int) as date) as date_day
    from bounds b
    cross join range(0, 36600) r
    where cast(b.first_day as int) + cast(r.value as int) <= cast({{ as_of_date() }} as int)
)
select
    date_day,
    cast(date_trunc('week', date_day) as date) as week_start,
    cast(date_trunc('month', date_day) as date) as month_start,
    cast(date_part('year', date_day) as int) as year,
    cast(date_part('quarter', date_day) as int) as quarter,
    cast(date_part('month', date_day) as int) as month,
    cast(date_part('isodow', date_day) as int) as iso_weekday,
    date_part('isodow', date_day) >= 6 as is_weekend
from days
