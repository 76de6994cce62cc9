{{ config(materialized='incremental', incremental_strategy='merge', unique_key=['order_id', 'line_no'], on_schema_change='append_new_columns') }}
-- One row per order line (its latest copy), with the product's price and cost at the time of the
-- order. Lines of unknown orders or products and non-positive quantities are quarantined
-- (silver.order_lines__quarantine), never dropped silently. The quarantine is a waiting room: a
-- line that arrived before its order or product is read again once that has arrived.
with typed as (
    select
        cast(l.order_id as bigint) as order_id,
        cast(l.line_no as bigint) as line_no,
        cast(l.product_id as bigint) as product_id,
        cast(l.quantity as bigint) as quantity,
        cast(l.unit_price as decimal(18, 2)) as unit_price,
        cast(l.discount_amount as decimal(18, 2)) as discount_amount,
        cast(l.updated_at as timestamp) as updated_at,
        l._source_file, l._ingested_at, l._row_number
    from {{ source('bronze', 'order_lines') }} l
),
arrived as (
    select * from typed
    {% if is_incremental() %}
    where _ingested_at > (select max(_ingested_at) from {{ this }})
    union all
    -- Never admitted, and what it was waiting for is here now: its order or its product
    -- arrived since the last run (a line with a bad quantity would only be quarantined again,
    -- so it is not re-read). Only the lines of those orders and products are looked at, so the
    -- check does not grow with the history.
    select * from (
        select * from typed
        where order_id in (
                select order_id from {{ ref('orders') }}
                where _ingested_at > (select max(_ingested_at) from {{ this }})
            )
           or product_id in (
                select try_cast(product_id as bigint) from {{ source('bronze', 'products') }}
                where _ingested_at > (select max(_ingested_at) from {{ this }})
            )
    ) w
    where not exists (select 1 from {{ this }} t where t.order_id = w.order_id and t.line_no = w.line_no)
      and exists (select 1 from {{ ref('orders') }} o where o.order_id = w.order_id)
      and exists (select 1 from {{ ref('products') }} p where p.product_id = w.product_id)
      and w.quantity > 0
    {% endif %}
),
latest as (
    select * from (
        select *, {{ latest_first('order_id, line_no') }} as _version from arrived
    ) t where _version = 1
)
select
    l.order_id, l.line_no, l.product_id, l.quantity, l.unit_price, l.discount_amount,
    {{ money('l.quantity * l.unit_price') }} as gross_amount,
    {{ money('l.quantity * l.unit_price - l.discount_amount') }} as net_amount,
    pv.unit_cost,
    o.order_id is not null as is_known_order,
    p.product_id is not null as is_known_product,
    l.updated_at, l._source_file, l._ingested_at, l._row_number
from latest l
left join {{ ref('orders') }} o on o.order_id = l.order_id
left join {{ ref('products') }} p on p.product_id = l.product_id
-- The cost of a sale is the product's cost when it was sold: at billing (until then, at ordering).
left join {{ ref('product_versions') }} pv
    on pv.product_id = l.product_id
   and coalesce(o.billed_at, o.ordered_at) >= pv.valid_from
   and (pv.valid_to is null or coalesce(o.billed_at, o.ordered_at) < pv.valid_to)
