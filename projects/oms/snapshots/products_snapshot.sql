{% snapshot products_snapshot %}
{{ config(unique_key='product_id', strategy='timestamp', updated_at='updated_at') }}
-- The current price and cost of each product as seen at each run (SCD type 2). The full version
-- history from the source is silver.product_versions, which fct_sales uses for cost at order time.
select product_id, description, brand, category, unit_price, unit_cost, updated_at
from {{ ref('products') }}
{% endsnapshot %}
