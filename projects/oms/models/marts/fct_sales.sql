-- One row per sale line (lines of billed, shipped or delivered orders) and one per return.
-- Definitions: docs/metrics.md, "Line-level facts". Cancelled and unbilled orders carry no sales.
-- A sale is dated by its billing (that is when it becomes a sale), a return by its return.
{#- VAT in millionths, so invoices are rounded in exact integer arithmetic, as the ledger's. -#}
{% set vat_ppm = (var('vat_rate', 0.075) * 1000000) | round | int %}
with sold_orders as (
    select * from {{ ref('orders') }} where status in ('billed', 'shipped', 'delivered')
),
sale_lines as (
    select
        'sale' as line_type,
        l.order_id, l.line_no, cast(null as bigint) as return_id,
        o.customer_id, o.location_id, o.channel, o.source_system, l.product_id,
        o.ordered_at, coalesce(o.billed_at, o.ordered_at) as event_at,
        l.quantity, l.unit_price, l.unit_cost,
        {{ money('l.quantity * l.unit_price') }} as gross_amount,
        {{ money('l.discount_amount') }} as discount_amount,
        cast(null as varchar) as return_reason
    from {{ ref('order_lines') }} l
    join sold_orders o on o.order_id = l.order_id
),
return_lines as (
    select
        'return' as line_type,
        r.order_id, r.line_no, r.return_id,
        o.customer_id, o.location_id, o.channel, o.source_system, l.product_id,
        o.ordered_at, r.returned_at as event_at,
        -r.quantity as quantity, l.unit_price, l.unit_cost,
        {{ money('-(r.quantity * l.unit_price)') }} as gross_amount,
        {{ money('-(l.discount_amount * r.quantity / l.quantity)') }} as discount_amount,
        r.reason as return_reason
    from {{ ref('returns') }} r
    join {{ ref('order_lines') }} l on l.order_id = r.order_id and l.line_no = r.line_no
    join sold_orders o on o.order_id = r.order_id
),
lines as (
    select * from sale_lines
    union all
    select * from return_lines
),
netted as (
    select *, {{ money('gross_amount - discount_amount') }} as net_revenue
    from lines
),
-- VAT is computed and rounded once per invoice (the sale lines of an order) or refund note (one
-- return), then allocated to its lines by largest remainder, so the lines sum to it exactly.
-- Amounts in cents × 10^6 (integers): half-cent cases round away from zero, never by float luck.
-- A document is (order_id, line_type, return_id): an order's invoice, or one of its refund notes.
-- Keyed by order_id, so a refresh of a few orders reads only their lines.
shares as (
    select *, abs(cast(net_revenue * 100 as bigint)) * {{ vat_ppm }} as vat_micro
    from netted
),
allocated as (
    select *,
        (sum(vat_micro) over (partition by order_id, line_type, return_id) + 500000) / 1000000
            - sum(vat_micro / 1000000) over (partition by order_id, line_type, return_id) as extra_cents,
        row_number() over (partition by order_id, line_type, return_id order by vat_micro % 1000000 desc, line_no) as remainder_rank
    from shares
)
select
    line_type, order_id, line_no, return_id, customer_id, location_id, channel, source_system,
    product_id, ordered_at, event_at, cast(event_at as date) as event_date,
    quantity, unit_price, unit_cost, gross_amount, discount_amount,
    net_revenue,
    {{ money('quantity * unit_cost') }} as cost_amount,
    {{ money('net_revenue - quantity * unit_cost') }} as gross_profit,
    {{ money("cast((case when line_type = 'return' then -1 else 1 end) * (vat_micro / 1000000 + case when remainder_rank <= extra_cents then 1 else 0 end) as decimal(18, 2)) / 100") }} as vat_amount,
    return_reason
from allocated
