{#- orderlake's dbt_utils: the package's most used macros and tests under their usual names,
    written for DataFusion. Macros that need a relation's columns ask `adapter`, which the engine
    answers from the warehouse before the final render. -#}

{% macro generate_surrogate_key(field_list) -%}
md5(cast(concat(
{%- for field in field_list -%}
coalesce(cast({{ field }} as varchar), '_dbt_utils_surrogate_key_null_')
{%- if not loop.last %}, '-', {% endif -%}
{%- endfor -%}
) as varchar))
{%- endmacro %}

{% macro surrogate_key(field_list) -%}
{{ exceptions.raise_compiler_error("dbt_utils.surrogate_key was removed in dbt_utils 1.0: use dbt_utils.generate_surrogate_key (note that it treats nulls differently)") }}
{%- endmacro %}

{% macro star(from, relation_alias=False, except=[], prefix='', suffix='', quote_identifiers=True) -%}
{%- if not execute -%}*{%- else -%}
{%- set excluded = except | map('lower') | list -%}
{%- for col in adapter.get_columns_in_relation(from) if (col.name | lower) not in excluded -%}
{%- if relation_alias %}{{ relation_alias }}.{% endif -%}
{%- if quote_identifiers %}{{ adapter.quote(col.name) }}{% else %}{{ col.name }}{% endif -%}
{%- if prefix or suffix %} as {{ adapter.quote(prefix ~ col.name ~ suffix) }}{% endif -%}
{%- if not loop.last %},
  {% endif -%}
{%- endfor -%}
{%- endif -%}
{%- endmacro %}

{% macro get_filtered_columns_in_relation(from, except=[]) -%}
{%- set excluded = except | map('lower') | list -%}
{%- set ns = namespace(names=[]) -%}
{%- for col in adapter.get_columns_in_relation(from) if (col.name | lower) not in excluded -%}
{%- set ns.names = ns.names + [col.name] -%}
{%- endfor -%}
{{ return(ns.names) }}
{%- endmacro %}

{% macro date_spine(datepart, start_date, end_date) -%}
select * from (
    select unnest(generate_series(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp),
        interval '1 {{ datepart }}'
    )) as date_{{ datepart }}
) as date_spine
where date_{{ datepart }} < cast({{ end_date }} as timestamp)
{%- endmacro %}

{% macro generate_series(upper_bound) -%}
select unnest(range(1, {{ upper_bound }} + 1)) as generated_number
{%- endmacro %}

{% macro slugify(string) -%}
{{ return(__orderlake_slugify(string)) }}
{%- endmacro %}

{% macro get_column_values(table, column, order_by='count(*) desc', max_records=none, default=none, where=none) -%}
{%- if not execute -%}{{ return(default if default is not none else []) }}{%- endif -%}
{%- set query -%}
select {{ column }} as value from {{ table }}{% if where %} where {{ where }}{% endif %} group by {{ column }} order by {{ order_by }}{% if max_records is not none %} limit {{ max_records }}{% endif %}
{%- endset -%}
{%- set result = run_query(query) -%}
{%- if result.columns -%}{{ return(result.columns[0].values()) }}{%- endif -%}
{{ return(default if default is not none else []) }}
{%- endmacro %}

{% macro pivot(column, values, alias=True, agg='sum', cmp='=', prefix='', suffix='', then_value=1, else_value=0, quote_identifiers=True, distinct=False) -%}
{%- for value in values -%}
{{ agg }}({% if distinct %}distinct {% endif %}case when {{ column }} {{ cmp }} '{{ value | string | replace("'", "''") }}' then {{ then_value }} else {{ else_value }} end)
{%- if alias %} as {% if quote_identifiers %}{{ adapter.quote(prefix ~ value ~ suffix) }}{% else %}{{ slugify(prefix ~ value ~ suffix) }}{% endif %}{% endif -%}
{%- if not loop.last %},
  {% endif -%}
{%- endfor -%}
{%- endmacro %}

{% macro unpivot(relation=none, cast_to='varchar', exclude=none, remove=none, field_name='field_name', value_name='value', quote_identifiers=True) -%}
{%- set exclude = (exclude or []) | map('lower') | list -%}
{%- set remove = (remove or []) | map('lower') | list -%}
{%- set columns = adapter.get_columns_in_relation(relation) -%}
{%- set ns = namespace(first=true) -%}
{%- for col in columns if (col.name | lower) not in exclude and (col.name | lower) not in remove -%}
{%- if not ns.first %}
union all
{% endif -%}
{%- set ns.first = false -%}
select
  {%- for kept_col in columns if (kept_col.name | lower) in exclude %}
  {{ adapter.quote(kept_col.name) if quote_identifiers else kept_col.name }},
  {%- endfor %}
  cast('{{ col.name | replace("'", "''") }}' as varchar) as {{ field_name }},
  cast({{ adapter.quote(col.name) if quote_identifiers else col.name }} as {{ cast_to }}) as {{ value_name }}
from {{ relation }}
{%- endfor -%}
{%- endmacro %}

{% macro union_relations(relations, column_override=none, include=[], exclude=[], source_column_name='_dbt_source_relation', where=none) -%}
{%- set include = include | map('lower') | list -%}
{%- set exclude = exclude | map('lower') | list -%}
{%- set overrides = column_override or {} -%}
{%- set ns = namespace(names=[], cased=[], types=[]) -%}
{%- for relation in relations -%}
  {%- for col in adapter.get_columns_in_relation(relation) -%}
    {%- set lname = col.name | lower -%}
    {%- if lname not in ns.names and (not include or lname in include) and lname not in exclude -%}
      {%- set ns.names = ns.names + [lname] -%}
      {%- set ns.cased = ns.cased + [col.name] -%}
      {%- set ns.types = ns.types + [overrides[col.name] if col.name in overrides else col.data_type] -%}
    {%- endif -%}
  {%- endfor -%}
{%- endfor -%}
{%- for relation in relations %}
{% if not loop.first %}union all
{% endif -%}
select
  cast('{{ relation | string | replace("'", "''") }}' as varchar) as {{ source_column_name }}
  {%- set own = adapter.get_columns_in_relation(relation) -%}
  {%- for i in range(ns.names | length) -%}
  {%- set fns = namespace(name=none) -%}
  {%- for c in own if (c.name | lower) == ns.names[i] -%}{%- set fns.name = c.name -%}{%- endfor %},
  {% if fns.name is not none %}cast({{ adapter.quote(fns.name) }} as {{ ns.types[i] }}){% else %}cast(null as {{ ns.types[i] }}){% endif %} as {{ adapter.quote(ns.cased[i]) }}
  {%- endfor %}
from {{ relation }}
{%- if where %} where {{ where }}{% endif %}
{%- endfor -%}
{%- endmacro %}

{% macro deduplicate(relation, partition_by, order_by) -%}
select * from {{ relation }}
qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}

{% macro group_by(n) -%}
group by {% for i in range(1, n + 1) %}{{ i }}{% if not loop.last %}, {% endif %}{% endfor %}
{%- endmacro %}

{% macro safe_divide(numerator, denominator) -%}
( {{ numerator }} ) / nullif( ( {{ denominator }} ), 0)
{%- endmacro %}

{% macro safe_add(field_list) -%}
{% for f in field_list %}coalesce({{ f }}, 0){% if not loop.last %} + {% endif %}{% endfor %}
{%- endmacro %}

{% macro safe_subtract(field_list) -%}
{% for f in field_list %}coalesce({{ f }}, 0){% if not loop.last %} - {% endif %}{% endfor %}
{%- endmacro %}

{% macro test_expression_is_true(model, expression, column_name=none) -%}
select * from {{ model }}
where not ({% if column_name %}{{ column_name }} {% endif %}{{ expression }})
{%- endmacro %}

{% macro test_accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) -%}
select * from {{ model }}
where 1 = 2
{%- if min_value is not none %} or not ({{ column_name }} >{% if inclusive %}={% endif %} {{ min_value }}){% endif %}
{%- if max_value is not none %} or not ({{ column_name }} <{% if inclusive %}={% endif %} {{ max_value }}){% endif %}
{%- endmacro %}

{% macro test_unique_combination_of_columns(model, combination_of_columns, quote_columns=false) -%}
{%- set columns = combination_of_columns | map('string') | list -%}
select {% for c in columns %}{{ adapter.quote(c) if quote_columns else c }}{% if not loop.last %}, {% endif %}{% endfor %}, count(*) as n_records
from {{ model }}
group by {% for c in columns %}{{ adapter.quote(c) if quote_columns else c }}{% if not loop.last %}, {% endif %}{% endfor %}
having count(*) > 1
{%- endmacro %}

{% macro test_equal_rowcount(model, compare_model) -%}
with a as (select count(*) as count_a from {{ model }}),
     b as (select count(*) as count_b from {{ compare_model }})
select count_a, count_b, abs(count_a - count_b) as diff_count
from a cross join b
where count_a <> count_b
{%- endmacro %}

{% macro test_at_least_one(model, column_name) -%}
select count({{ column_name }}) as filler from {{ model }} having count({{ column_name }}) = 0
{%- endmacro %}

{% macro test_not_constant(model, column_name) -%}
select count(distinct {{ column_name }}) as filler from {{ model }} having count(distinct {{ column_name }}) = 1
{%- endmacro %}

{% macro test_not_empty_string(model, column_name, trim_whitespace=true) -%}
select {{ column_name }} from {{ model }}
where {% if trim_whitespace %}trim({{ column_name }}){% else %}{{ column_name }}{% endif %} = ''
{%- endmacro %}

{% macro test_not_null_proportion(model, column_name, at_least, at_most=1.0) -%}
select ratio from (
    select sum(case when {{ column_name }} is null then 0 else 1 end) * 1.0 / count(*) as ratio
    from {{ model }}
) as proportion
where ratio < {{ at_least }} or ratio > {{ at_most }}
{%- endmacro %}

{% macro test_not_accepted_values(model, column_name, values, quote=true) -%}
select {{ column_name }} as value_field from {{ model }}
where {{ column_name }} in (
{%- for value in values -%}
{%- if quote -%}'{{ value | string | replace("'", "''") }}'{%- else -%}{{ value }}{%- endif -%}
{%- if not loop.last %}, {% endif -%}
{%- endfor -%})
{%- endmacro %}

{% macro test_relationships_where(model, column_name, to, field, from_condition='1=1', to_condition='1=1') -%}
select child.from_field from (
    select {{ column_name }} as from_field from {{ model }} where {{ column_name }} is not null and {{ from_condition }}
) as child
left join (
    select {{ field }} as to_field from {{ to }} where {{ to_condition }}
) as parent on child.from_field = parent.to_field
where parent.to_field is null
{%- endmacro %}
