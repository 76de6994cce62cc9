-- Olist reviews (olist_order_reviews_dataset.csv; optional: the subset has none). One row per
-- (review_id, order_id): the public file repeats some review ids across orders.
select
    trim(review_id) as review_id,
    trim(order_id) as order_id,
    try_cast(review_score as int) as score,
    nullif(trim(review_comment_title), '') as comment_title,
    nullif(trim(review_comment_message), '') as comment_message,
    {{ text_timestamp('review_creation_date') }} as created_at,
    {{ text_timestamp('review_answer_timestamp') }} as answered_at
from {{ optional_source('olist', 'olist_order_reviews_dataset', ['review_id', 'order_id', 'review_score',
    'review_comment_title', 'review_comment_message', 'review_creation_date', 'review_answer_timestamp']) }} r
where nullif(trim(review_id), '') is not null and try_cast(review_score as int) is not null
qualify {{ newest_copy('trim(review_id), trim(order_id)') }}
