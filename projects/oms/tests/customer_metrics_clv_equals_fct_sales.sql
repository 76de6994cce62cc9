-- Cross-model invariant: the sum of CLV over customers equals net revenue after returns.
select m.total, f.total
from (select sum(clv) as total from {{ ref('customer_metrics') }}) m,
     (select cast(sum(net_revenue) as decimal(18, 2)) as total from {{ ref('fct_sales') }}) f
where m.total <> f.total
