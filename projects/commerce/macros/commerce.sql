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
