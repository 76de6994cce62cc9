-- Every order's amount equals the sum of its payments.
select o.order_id, o.amount, p.paid
from {{ ref('orders') }} o
join (
    select order_id, sum(amount) as paid
    from {{ ref('stg_payments') }}
    group by order_id
) p on o.order_id = p.order_id
where abs(o.amount - p.paid) > 0.001
