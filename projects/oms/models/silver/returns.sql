-- One row per return, checked against the line it returns: a return of an unknown line, or one
-- that would take the line's returned units above its sold units, is quarantined with the reason
-- (silver.returns__quarantine), never silently capped.
with typed as (
    select
        try_cast(return_id as bigint) as return_id,
        try_cast(order_id as bigint) as order_id,
        try_cast(line_no as bigint) as line_no,
        try_cast(quantity as bigint) as quantity,
        trim(reason) as reason,
        try_cast(returned_at as timestamp) as returned_at,
        _source_file, _ingested_at, _row_number
    from {{ source('bronze', 'returns') }}
),
latest as (
    select * from (select *, {{ latest_first('return_id', 'returned_at') }} as _version from typed where return_id is not null) t
    where _version = 1
)
select
    r.return_id, r.order_id, r.line_no, r.quantity, r.reason, r.returned_at,
    l.order_id is not null as is_known_line,
    coalesce(
        sum(r.quantity) over (partition by r.order_id, r.line_no order by r.returned_at, r.return_id rows between unbounded preceding and current row)
        <= l.quantity,
        false
    ) as is_within_sold,
    r._source_file, r._ingested_at, r._row_number
from latest r
left join {{ ref('order_lines') }} l on l.order_id = r.order_id and l.line_no = r.line_no
