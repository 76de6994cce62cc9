-- Every order in silver.orders has exactly one current status spell (__end_at null) in
-- silver.order_status_history.
select o.order_id, count(h.order_id) as current_spells
from {{ ref('orders') }} o
left join {{ ref('order_status_history') }} h
  on h.order_id = o.order_id and h.__END_AT is null
group by o.order_id
having count(h.order_id) <> 1
