-- For every customer who owes money, the five buckets add up to the balance; prepaid ones have none.
select customer_id, balance
from {{ ref('credit_aging') }}
where (balance >= 0 and days_0_30 + days_31_60 + days_61_90 + days_91_180 + days_over_180 <> balance)
   or (balance < 0 and days_0_30 + days_31_60 + days_61_90 + days_91_180 + days_over_180 <> 0)
