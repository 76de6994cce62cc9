-- Olist customers: customer_id is issued per order; customer_unique_id is the person.
select
    trim(customer_id) as customer_id,
    trim(customer_unique_id) as customer_unique_id,
    trim(customer_zip_code_prefix) as zip_code_prefix,
    trim(customer_city) as city,
    upper(trim(customer_state)) as state
from {{ optional_source('olist', 'olist_customers_dataset', ['customer_id', 'customer_unique_id', 'customer_zip_code_prefix', 'customer_city', 'customer_state']) }} r
where nullif(trim(customer_id), '') is not null
qualify {{ newest_copy('trim(customer_id)') }}
