-- Every order needs its currency's rate and the reporting currency's on the day it was placed
-- (seeds/exchange_rates.csv): the rows returned name the order, the currency and the day missing.
select order_key, currency, reporting_currency, cast(ordered_at as date) as order_date
from {{ ref('orders') }}
where ordered_at is not null and exchange_rate is null
