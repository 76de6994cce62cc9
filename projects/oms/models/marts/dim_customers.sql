select
    c.customer_id, c.customer_name, ct.customer_type, c.email, c.credit_limit, c.registered_at,
    c.location_id, l.region, l.country, l.state, l.city, l.territory_name as territory, l.manager
from {{ ref('customers') }} c
left join {{ ref('customer_types') }} ct on ct.customer_type_id = c.customer_type_id
left join {{ ref('dim_locations') }} l on l.location_id = c.location_id
