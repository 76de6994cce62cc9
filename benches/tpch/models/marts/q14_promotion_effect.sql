select 100.00 * sum(case when p.part_type like 'PROMO%' then l.extended_price * (1 - l.discount) else 0 end)
       / sum(l.extended_price * (1 - l.discount)) as promo_revenue
from {{ ref('stg_lineitem') }} l
join {{ ref('stg_part') }} p on l.part_key = p.part_key
where l.ship_date >= date '1995-09-01' and l.ship_date < date '1995-10-01'
