select p_partkey as part_key, p_name as name, p_brand as brand, p_type as part_type,
       p_size as size, p_container as container, p_retailprice as retail_price
from {{ source('tpch', 'part') }}
