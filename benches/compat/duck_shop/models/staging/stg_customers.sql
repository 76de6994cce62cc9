select
    id::bigint as customer_id,
    first_name || ' ' || last_name as full_name,
    signup_date::date as signup_date,
    strftime(signup_date::date, '%Y-%m') as signup_month,
    coalesce(tags, '') as tags
from {{ ref('raw_customers') }}
