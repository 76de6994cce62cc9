-- Cross-model invariant: order-level revenue after returns sums to the line-level facts.
-- An invariant between models built from the same facts, not proof that either is right: the values are checked against an independent computation from the landing files in crates/cli/tests/integration/oms.rs.
select o.total, f.total
from (select sum(net_revenue_after_returns) as total from {{ ref('fct_orders') }}) o,
     (select cast(sum(net_revenue) as decimal(18, 2)) as total from {{ ref('fct_sales') }}) f
where o.total <> f.total
