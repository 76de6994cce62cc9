//! How a backtest judges predictions against what happened.

/// Area under the ROC curve: the probability that a randomly chosen positive scores above a
/// randomly chosen negative (ties count half). `None` unless both classes are present.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let mut pairs: Vec<(f64, bool)> = scores
        .iter()
        .copied()
        .zip(positive.iter().copied())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = pairs.iter().filter(|(_, p)| *p).count() as f64;
    let negatives = pairs.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Mann–Whitney U from the positives' ranks, tied scores sharing their average rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += average_rank * pairs[i..j].iter().filter(|(_, p)| *p).count() as f64;
        i = j;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Mean of |predicted − actual|; `None` for no pairs.
pub fn mean_absolute_error(predicted: &[f64], actual: &[f64]) -> Option<f64> {
    let n = predicted.len().min(actual.len());
    (n > 0).then(|| {
        predicted
            .iter()
            .zip(actual)
            .map(|(p, a)| (p - a).abs())
            .sum::<f64>()
            / n as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_correctly_ordered_pairs_and_ties_as_half() {
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        // Pairs (pos, neg): (0.5, 0.1) right, (0.5, 0.5) tie, (0.3, 0.1) right, (0.3, 0.5) wrong.
        assert_eq!(
            roc_auc(&[0.5, 0.3, 0.1, 0.5], &[true, true, false, false]),
            Some(0.625)
        );
        // A yes/no score is (sensitivity + specificity) / 2.
        assert_eq!(
            roc_auc(&[1.0, 0.0, 0.0, 0.0], &[true, true, false, false]),
            Some(0.75)
        );
        assert_eq!(roc_auc(&[0.3, 0.4], &[true, true]), None);
    }

    #[test]
    fn mae_is_the_mean_absolute_difference() {
        assert_eq!(mean_absolute_error(&[1.0, 5.0], &[2.0, 2.0]), Some(2.0));
        assert_eq!(mean_absolute_error(&[], &[]), None);
    }
}
