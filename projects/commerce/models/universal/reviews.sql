-- Customer reviews where the platform has them (Olist's reviews file, when it was exported).
select
    'olist' as source_platform,
    'olist:' || review_id || ':' || order_id as review_key,
    'olist:' || order_id as order_key,
    score, comment_title, comment_message, created_at, answered_at
from {{ ref('stg_olist__reviews') }}
