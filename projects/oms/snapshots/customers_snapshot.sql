{% snapshot customers_snapshot %}
{{ config(unique_key='customer_id', strategy='check', check_cols=['customer_name', 'customer_type_id', 'location_id', 'credit_limit'], hard_deletes='invalidate') }}
-- Every change of a customer's name, type, location or credit limit, kept as history (SCD type 2).
select customer_id, customer_name, customer_type_id, email, location_id, credit_limit, updated_at
from {{ ref('customers') }}
{% endsnapshot %}
