-- Each return checked against the line it returns, before the walk that accepts or refuses it
-- (silver.returns): whether the line is known, whether its order was sold, the units sold on the
-- line and the return's place among the line's returns in time order. Keyed by order: a new or
-- changed order or line recomputes the checks of that order's returns only.
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
),
joined as (
    select
        r.*,
        l.quantity as sold,
        l.order_id is not null as is_known_line,
        coalesce(o.status in ('billed', 'shipped', 'delivered'), false) as is_sold_order
    from latest r
    left join {{ ref('order_lines') }} l on l.order_id = r.order_id and l.line_no = r.line_no
    left join {{ ref('orders') }} o on o.order_id = r.order_id
),
checked as (
    select
        *,
        case when is_known_line and is_sold_order then
            row_number() over (partition by order_id, line_no, is_known_line and is_sold_order order by returned_at, return_id)
        end as seq
    from joined
)
select * from checked
