-- One row per order. Definitions: docs/metrics.md, "Order-level facts". Units and amounts of a
-- cancelled order are zero; `net_revenue` counts billed sales only.
with line_totals as (
    select
        order_id,
        count(*) as line_count,
        sum(quantity) as units,
        sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount
    from {{ ref('order_lines') }}
    group by order_id
),
sales as (
    select
        order_id,
        sum(case when line_type = 'sale' then net_revenue else 0 end) as net_revenue,
        -sum(case when line_type = 'return' then net_revenue else 0 end) as refunded_amount,
        sum(vat_amount) as vat_amount
    from {{ ref('fct_sales') }}
    group by order_id
),
paid as (
    select order_id, sum(amount) as paid_amount from {{ ref('payments') }} group by order_id
),
shipped as (
    select order_id, min(shipped_at) as first_shipped_at, max(delivered_at) as delivered_at
    from {{ ref('shipments') }}
    group by order_id
)
select
    o.order_id, o.customer_id, o.location_id, o.channel, o.source_system, o.ordered_at, o.status,
    o.hold_reason, o.cancel_reason,
    coalesce(t.line_count, 0) as line_count,
    case when o.status = 'cancelled' then 0 else coalesce(t.units, 0) end as units,
    {{ money("case when o.status = 'cancelled' then 0 else coalesce(t.gross_amount, 0) end") }} as gross_amount,
    {{ money("case when o.status = 'cancelled' then 0 else coalesce(t.discount_amount, 0) end") }} as discount_amount,
    {{ money('coalesce(s.net_revenue, 0)') }} as net_revenue,
    {{ money('coalesce(s.refunded_amount, 0)') }} as refunded_amount,
    {{ money('coalesce(s.net_revenue, 0) - coalesce(s.refunded_amount, 0)') }} as net_revenue_after_returns,
    {{ money('coalesce(s.vat_amount, 0)') }} as vat_amount,
    {{ money('coalesce(p.paid_amount, 0)') }} as paid_amount,
    {{ money('coalesce(s.net_revenue, 0) - coalesce(s.refunded_amount, 0) + coalesce(s.vat_amount, 0) - coalesce(p.paid_amount, 0)') }} as balance_due,
    sh.first_shipped_at, sh.delivered_at,
    o.status = 'cancelled' as is_cancelled
from {{ ref('orders') }} o
left join line_totals t on t.order_id = o.order_id
left join sales s on s.order_id = o.order_id
left join paid p on p.order_id = o.order_id
left join shipped sh on sh.order_id = o.order_id
