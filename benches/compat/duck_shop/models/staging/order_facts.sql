{{ config(materialized='ephemeral') }}
select o.order_id, o.customer_id, o.status, o.amount, o.ordered_on, o.order_month, o.is_big,
       coalesce(p.paid, 0) as paid
from {{ ref('stg_orders') }} o
left join (select order_id, sum(amount) as paid from {{ ref('stg_payments') }} group by all) p
  on p.order_id = o.order_id
