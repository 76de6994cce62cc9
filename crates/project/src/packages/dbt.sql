{#- dbt's cross-database macros (`dbt.dateadd`, `dbt.type_string`, ...), written for DataFusion.
    They may also be called without the `dbt.` prefix, as in dbt. -#}

{% macro dateadd(datepart, interval, from_date_or_timestamp) -%}
dateadd('{{ datepart }}', {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{% macro datediff(first_date, second_date, datepart) -%}
datediff('{{ datepart }}', {{ first_date }}, {{ second_date }})
{%- endmacro %}

{% macro date_trunc(datepart, date) -%}
date_trunc('{{ datepart }}', {{ date }})
{%- endmacro %}

{% macro last_day(date, datepart) -%}
cast(dateadd('day', -1, dateadd('{{ datepart }}', 1, date_trunc('{{ datepart }}', {{ date }}))) as date)
{%- endmacro %}

{% macro date(year, month, day) -%}
make_date({{ year }}, {{ month }}, {{ day }})
{%- endmacro %}

{% macro type_string() %}varchar{% endmacro %}
{% macro type_timestamp() %}timestamp{% endmacro %}
{% macro type_int() %}int{% endmacro %}
{% macro type_bigint() %}bigint{% endmacro %}
{% macro type_float() %}double{% endmacro %}
{% macro type_numeric() %}decimal(28, 6){% endmacro %}
{% macro type_boolean() %}boolean{% endmacro %}

{% macro current_timestamp() %}now(){% endmacro %}
{% macro current_timestamp_backcompat() %}now(){% endmacro %}

{% macro concat(fields) -%}
concat({{ fields | join(', ') }})
{%- endmacro %}

{% macro hash(field) -%}
md5(cast({{ field }} as varchar))
{%- endmacro %}

{% macro safe_cast(field, type) -%}
try_cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro cast(field, type) -%}
cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro split_part(string_text, delimiter_text, part_number) -%}
split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }})
{%- endmacro %}

{% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) -%}
string_agg({{ measure }}, {{ delimiter_text }}{% if order_by_clause %} {{ order_by_clause }}{% endif %})
{%- endmacro %}

{% macro any_value(expression) %}first_value({{ expression }}){% endmacro %}
{% macro bool_or(expression) %}bool_or({{ expression }}){% endmacro %}

{% macro position(substring_text, string_text) -%}
strpos({{ string_text }}, {{ substring_text }})
{%- endmacro %}

{% macro length(expression) %}length({{ expression }}){% endmacro %}

{% macro replace(field, old_chars, new_chars) -%}
replace({{ field }}, {{ old_chars }}, {{ new_chars }})
{%- endmacro %}

{% macro right(string_text, length_expression) -%}
right({{ string_text }}, {{ length_expression }})
{%- endmacro %}

{% macro escape_single_quotes(expression) %}{{ expression | replace("'", "''") }}{% endmacro %}

{% macro string_literal(value) %}'{{ value | replace("'", "''") }}'{% endmacro %}

{% macro cast_bool_to_text(field) %}cast({{ field }} as varchar){% endmacro %}

{% macro array_construct(inputs=[], data_type=none) -%}
make_array({{ inputs | join(', ') }})
{%- endmacro %}

{% macro except() %}except{% endmacro %}
{% macro intersect() %}intersect{% endmacro %}
