{{ config(materialized='incremental', unique_key='order_id') }}
select order_id, customer_id, status, amount, ordered_on
from {{ ref('order_facts') }}
{% if is_incremental() %}
where ordered_on > (select max(ordered_on) from {{ this }})
{% endif %}
