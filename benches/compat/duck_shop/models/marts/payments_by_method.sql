select
    order_id,
{%- for method in payment_methods() %}
    sum(case when method = '{{ method }}' then amount else 0 end) as {{ method }}_amount,
{%- endfor %}
    count(*) as payments,
    max(paid_at) as last_paid_at
from {{ ref('stg_payments') }}
group by order_id
