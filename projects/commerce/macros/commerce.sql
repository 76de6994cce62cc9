{#- Schemas are used as named (staging, universal, gold), not prefixed with the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}

{#- A text timestamp as exported, with or without seconds ('2018-01-20 12:15:57' or
    '2018-01-20 12:15'); empty text is null. -#}
{% macro text_timestamp(column) -%}
    try_cast(case when length(trim({{ column }})) = 16 then trim({{ column }}) || ':00'
                  else nullif(trim({{ column }}), '') end as timestamp)
{%- endmacro %}

{#- Money as published: DECIMAL(18,2). -#}
{% macro money(expr) -%}
    cast({{ expr }} as decimal(18, 2))
{%- endmacro %}

{#- Keeps the newest copy of each key among bronze rows (an export loaded twice, or again with
    newer data): the last file loaded wins, then the last row in it. -#}
{% macro newest_copy(key) -%}
    row_number() over (partition by {{ key }} order by _ingested_at desc, _source_file desc, _row_number desc) = 1
{%- endmacro %}

{#- The rows of a platform's bronze table, or none when that platform's export was never loaded
    (every platform, and Olist's reviews and geolocation, are optional): `columns` are the text
    columns the staging model reads; one the table lacks is null. Bronze columns are text. -#}
{% macro optional_source(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- if present | length == 0 -%}
    (select {% for c in columns %}cast(null as varchar) as {{ c }}, {% endfor -%}
        cast(null as varchar) as _source_file, cast(null as timestamp) as _ingested_at, cast(null as bigint) as _row_number
     where false)
    {%- else -%}
    (select {% for c in columns %}{% if c in present %}{{ adapter.quote(c) }}{% else %}cast(null as varchar){% endif %} as {{ c }}, {% endfor -%}
        _source_file, _ingested_at, _row_number
     from {{ relation }})
    {%- endif -%}
{%- endmacro %}

{#- A modelled table of another project in the same warehouse (the OMS project's gold), or none
    when it was not built there: `columns` maps each column read to its SQL type. -#}
{% macro optional_table(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if adapter.get_columns_in_relation(relation) | length == 0 -%}
    (select {% for name, type in columns | items %}cast(null as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %} where false)
    {%- else -%}
    (select {% for name, type in columns | items %}cast({{ name }} as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %} from {{ relation }})
    {%- endif -%}
{%- endmacro %}

{#- An ISO-8601 time with its offset ('2024-03-01T10:15:00-05:00', as APIs send it) or Shopify's
    CSV form ('2024-05-02 10:15:00 -0400') as a UTC timestamp; without an offset, as it is. -#}
{% macro utc_timestamp(column) -%}
    try_cast(case when trim({{ column }}) like '____-__-__ __:__:__ ____%'
                  then substr(trim({{ column }}), 1, 10) || 'T' || substr(trim({{ column }}), 12, 8)
                       || substr(trim({{ column }}), 21, 3) || ':' || substr(trim({{ column }}), 24, 2)
                  else nullif(trim({{ column }}), '') end as timestamp)
{%- endmacro %}

{#- An amount in a JSON text: json_money('total_tax_set', "'presentment_money', 'amount'"). -#}
{% macro json_money(column, path) -%}
    cast(coalesce(json_get_str({{ column }}, {{ path }}), cast(json_get_float({{ column }}, {{ path }}) as varchar)) as decimal(18, 2))
{%- endmacro %}

{#- The columns of the universal orders, in order: every platform's staging orders model has
    them. -#}
{% macro order_columns() -%}
    source_platform, order_key, source_order_id, customer_key, status, source_status,
    ordered_at, paid_at, shipped_at, delivered_at, estimated_delivery_at, currency,
    item_count, gross_amount, discount_amount, items_amount, shipping_amount, fee_amount,
    tax_amount, order_amount, paid_amount, payment_count, paid_with_voucher
{%- endmacro %}

{#- The columns of universal order items, refunds, payments, customers and products. -#}
{% macro item_columns() -%}
    source_platform, order_key, line_no, product_key, store_key, product_name, category,
    quantity, unit_price, discount_amount, line_amount, shipping_amount, currency
{%- endmacro %}

{% macro refund_columns() -%}
    source_platform, refund_key, order_key, refunded_at, amount, tax_amount, quantity, reason, currency
{%- endmacro %}

{% macro payment_columns() -%}
    source_platform, order_key, payment_no, method, installments, amount, currency
{%- endmacro %}

{% macro customer_columns() -%}
    source_platform, customer_key, source_customer_id, zip_code_prefix, city, state, country
{%- endmacro %}

{% macro product_columns() -%}
    source_platform, product_key, source_product_id, product_name, category, category_english
{%- endmacro %}
