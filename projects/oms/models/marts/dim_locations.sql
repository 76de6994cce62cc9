select
    l.location_id, l.region, l.country, l.state, l.city,
    l.territory_id, t.territory_name, t.manager
from {{ ref('locations') }} l
left join {{ ref('territories') }} t on t.territory_id = l.territory_id
