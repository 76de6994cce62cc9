-- Per carrier, warehouse and ship day. Definitions: docs/metrics.md, "Shipment SLA".
with s as (
    select
        s.*,
        cast(s.shipped_at as date) as ship_day,
        cast(date_diff('second', s.shipped_at, s.delivered_at) as double) / 3600.0 as delivery_hours
    from {{ ref('shipments') }} s
)
select
    s.carrier_id, c.carrier_name, s.warehouse_id, w.warehouse_name, s.ship_day,
    count(*) as shipments,
    count(s.delivered_at) as delivered,
    sum(case when s.delivered_at <= s.promised_at then 1 else 0 end) as on_time,
    {{ ratio('sum(case when s.delivered_at <= s.promised_at then 1 else 0 end)', 'count(s.delivered_at)') }} as on_time_rate,
    avg(s.delivery_hours) as avg_delivery_hours,
    approx_percentile_cont(s.delivery_hours, 0.9) as p90_delivery_hours,
    sum(case when s.delivered_at is null and s.promised_at < cast({{ as_of_date() }} as timestamp) then 1 else 0 end) as late_open
from s
left join {{ ref('carriers') }} c on c.carrier_id = s.carrier_id
left join {{ ref('warehouses') }} w on w.warehouse_id = s.warehouse_id
group by s.carrier_id, c.carrier_name, s.warehouse_id, w.warehouse_name, s.ship_day
