-- Accounts-receivable aging with FIFO settlement: all of a customer's credits settle the oldest
-- open debits first; each open remainder is bucketed by its age at the as-of date into
-- days_0_30, days_31_60, days_61_90, days_91_180 and days_over_180 (the spec's 0-30 … >180).
-- Only entries up to and including the as-of day count: a later payment settles nothing yet.
with ledger as (
    select * from {{ ref('ledger') }}
    where value_date <= {{ as_of_date() }}
),
debits as (
    select
        customer_id, entry_id, value_date, amount,
        sum(amount) over (partition by customer_id order by value_date, entry_id rows between unbounded preceding and current row) as cumulative
    from ledger
    where entry_type = 'invoice'
),
credits as (
    select customer_id, sum(amount) as credited
    from ledger
    where entry_type <> 'invoice'
    group by customer_id
),
customers as (
    select customer_id from ledger group by customer_id
),
open_debits as (
    -- The part of each debit not covered by credits: min(amount, cumulative - credited), at least 0.
    select
        d.customer_id, d.value_date,
        greatest(cast(0 as decimal(18, 2)), least(d.amount, d.cumulative - coalesce(c.credited, 0))) as open_amount,
        {{ days_between('d.value_date', as_of_date()) }} as age_days
    from debits d
    left join credits c on c.customer_id = d.customer_id
),
totals as (
    select customer_id, sum(amount) as debited from debits group by customer_id
),
buckets as (
    select
        customer_id,
        sum(case when age_days <= 30 then open_amount else 0 end) as b0_30,
        sum(case when age_days between 31 and 60 then open_amount else 0 end) as b31_60,
        sum(case when age_days between 61 and 90 then open_amount else 0 end) as b61_90,
        sum(case when age_days between 91 and 180 then open_amount else 0 end) as b91_180,
        sum(case when age_days > 180 then open_amount else 0 end) as b180_plus
    from open_debits
    group by customer_id
)
select
    k.customer_id, c.customer_name, c.customer_type, c.region, c.territory, c.manager, c.credit_limit,
    {{ money('coalesce(t.debited, 0) - coalesce(cr.credited, 0)') }} as balance,
    {{ money('coalesce(b.b0_30, 0)') }} as days_0_30,
    {{ money('coalesce(b.b31_60, 0)') }} as days_31_60,
    {{ money('coalesce(b.b61_90, 0)') }} as days_61_90,
    {{ money('coalesce(b.b91_180, 0)') }} as days_91_180,
    {{ money('coalesce(b.b180_plus, 0)') }} as days_over_180
from customers k
left join totals t on t.customer_id = k.customer_id
left join credits cr on cr.customer_id = k.customer_id
left join buckets b on b.customer_id = k.customer_id
left join {{ ref('dim_customers') }} c on c.customer_id = k.customer_id
