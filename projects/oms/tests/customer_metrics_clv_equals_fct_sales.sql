-- Cross-model invariant: the sum of CLV over customers equals net revenue after returns.
-- An invariant between models built from the same facts, not proof that either is right: the values are checked against an independent computation from the landing files in crates/cli/tests/integration/oms.rs.
select m.total, f.total
from (select sum(clv) as total from {{ ref('customer_metrics') }}) m,
     (select cast(sum(net_revenue) as decimal(18, 2)) as total from {{ ref('fct_sales') }}) f
where m.total <> f.total
