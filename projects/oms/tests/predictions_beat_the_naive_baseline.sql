-- The backtest's churn AUC reaches its floor and the naive baseline does not; the value forecast
-- errs less than its ceiling (a share of the baseline's error). A history too short to hold a
-- backtest (enough_history false) has nothing to judge.
select metric, model, baseline, floor
from {{ ref('prediction_backtest') }}
where enough_history
  and ((metric = 'churn_auc' and (model is null or model < floor or baseline >= floor))
    or (metric = 'value_mae' and (model is null or model > floor)))
