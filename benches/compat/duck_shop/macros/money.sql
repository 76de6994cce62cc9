{% macro cents_to_dollars(column) -%}
{{ return(adapter.dispatch('cents_to_dollars')(column)) }}
{%- endmacro %}

{% macro default__cents_to_dollars(column) -%}
round({{ column }} / 100.0, 2)
{%- endmacro %}

{% macro payment_methods() -%}
{{ return(['card', 'voucher', 'transfer']) }}
{%- endmacro %}
