{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}
{% if is_incremental() %}
-- The batch: the last half of its rows update existing keys, the rest are new keys.
select value as id, value % 997 as bucket, 'updated ' || cast(value as varchar) as payload, 2 as version
from range({{ var('target_rows') - var('batch_rows') // 2 }}, {{ var('target_rows') + var('batch_rows') // 2 }})
{% else %}
select value as id, value % 997 as bucket, 'row ' || cast(value as varchar) as payload, 1 as version
from range(0, {{ var('target_rows') }})
{% endif %}
