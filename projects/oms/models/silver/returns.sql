-- One row per return, checked against the line it returns: a return of an unknown line, or one
-- that would take the line's accepted units above its sold units, is quarantined with the reason
-- (silver.returns__quarantine), never silently capped. A refused return does not count toward
-- the limit: the returns of a line are walked in time order, each accepted only if the units
-- accepted before it plus its own stay within what was sold. A return on an order that was never
-- sold (raised, on hold, cancelled) is quarantined as `sold_order` and does not count either.
with recursive checked as (
    select * from {{ ref('returns_checked') }}
),
walk as (
    select
        return_id, order_id, line_no, seq,
        coalesce(quantity <= sold, false) as accepted,
        case when quantity <= sold then quantity else 0 end as accepted_units
    from checked
    where seq = 1
    union all
    select
        c.return_id, c.order_id, c.line_no, c.seq,
        coalesce(w.accepted_units + c.quantity <= c.sold, false) as accepted,
        w.accepted_units + case when w.accepted_units + c.quantity <= c.sold then c.quantity else 0 end as accepted_units
    from walk w
    join checked c on c.order_id = w.order_id and c.line_no = w.line_no and c.seq = w.seq + 1
)
select
    r.return_id, r.order_id, r.line_no, r.quantity, r.reason, r.returned_at,
    r.is_known_line,
    r.is_sold_order,
    coalesce(w.accepted, false) as is_within_sold,
    r._source_file, r._ingested_at, r._row_number
from checked r
left join walk w on w.return_id = r.return_id
