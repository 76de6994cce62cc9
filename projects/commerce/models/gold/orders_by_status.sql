-- Orders per platform and status (universal and the platform's own).
select source_platform, status, source_status, count(*) as orders
from {{ ref('orders') }}
group by source_platform, status, source_status
