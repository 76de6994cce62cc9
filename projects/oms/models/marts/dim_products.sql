select product_id, description, brand, category, unit_price, unit_cost, updated_at as price_updated_at
from {{ ref('products') }}
