{#- Schemas are used as named (silver, gold), not prefixed with the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}

{#- The as-of day of every "now"-dependent metric, as a SQL date. -#}
{% macro as_of_date() -%}
    {%- if var('as_of_date', none) -%}date '{{ var("as_of_date") }}'{%- else -%}current_date(){%- endif -%}
{%- endmacro %}

{#- Money as published: DECIMAL(18,2). The cast rounds half away from zero. -#}
{% macro money(expr) -%}
    cast({{ expr }} as decimal(18, 2))
{%- endmacro %}

{#- A ratio as DOUBLE; null when the denominator is zero. -#}
{% macro ratio(numerator, denominator) -%}
    case when {{ denominator }} = 0 then null else cast({{ numerator }} as double) / cast({{ denominator }} as double) end
{%- endmacro %}

{#- Whole days from one date to another. -#}
{% macro days_between(start, end) -%}
    datediff('day', {{ start }}, {{ end }})
{%- endmacro %}

{#- The latest version of each key among bronze rows: newest updated_at, then the last loaded. -#}
{% macro latest_first(key, updated_at='updated_at') -%}
    row_number() over (partition by {{ key }} order by {{ updated_at }} desc nulls last, _ingested_at desc, _source_file desc, _row_number desc)
{%- endmacro %}
