-- The current version of each product (its latest price and cost).
select product_id, description, brand, category, unit_price, unit_cost, valid_from as updated_at
from {{ ref('product_versions') }}
where is_current
