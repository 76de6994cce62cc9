//! Who places each order. Customers are not all there all the time: some join during the
//! period, each orders at their own rate while with us, and each leaves for good at some
//! point — so the history has the recency, repeat and churn patterns real customer bases show,
//! and a churn model has something to find.
//!
//! Lifecycles come from their own random stream, so the main stream (and with it every other
//! draw) is consumed exactly as before: the order simulation still draws one uniform per order,
//! which now picks among the customers present, in proportion to their rates.

use chrono::{Duration, NaiveDateTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::master::Customer;

/// One customer's time with us and how much of the order flow is theirs while here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifecycle {
    pub joins_at: NaiveDateTime,
    pub leaves_at: NaiveDateTime,
    /// Relative ordering rate.
    pub rate: f64,
}

/// Draws the lifecycles of `n` customers for a period of `days` from `start`. Index order is
/// activity order: the first customers (distributors, wholesalers) order most.
pub(crate) fn lifecycles(seed: u64, n: u64, start: NaiveDateTime, days: u32) -> Vec<Lifecycle> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6c69_6665_6379_636c);
    let days = f64::from(days.max(1));
    let minutes = |d: f64| Duration::minutes((d * 1440.0) as i64);
    (0..n)
        .map(|i| {
            // The same skew the single uniform draw per order always had: share ∝ the slice of
            // u^1.8 that lands on this index.
            let (lo, hi) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
            let rate = hi.powf(1.0 / 1.8) - lo.powf(1.0 / 1.8);
            // Six in ten were customers before the period; the rest join evenly through it.
            let joins_at = if rng.random_bool(0.6) {
                start
            } else {
                start + minutes(rng.random::<f64>() * days * 0.9)
            };
            // Expected stay: half the period to four times it; exponential around that.
            let mean_stay = days * (0.5 + 3.5 * rng.random::<f64>());
            let stay = -(1.0 - rng.random::<f64>()).ln() * mean_stay;
            Lifecycle {
                joins_at,
                leaves_at: joins_at + minutes(stay.min(days * 50.0)),
                rate,
            }
        })
        .collect()
}

/// Picks order placers among the customers present at each (non-decreasing) order time.
pub(crate) struct Buyers {
    customers: Vec<Customer>,
    lives: Vec<Lifecycle>,
    /// Fenwick tree over the rates of the customers present.
    tree: Vec<f64>,
    joins: Vec<usize>,
    leaves: Vec<usize>,
    next_join: usize,
    next_leave: usize,
}

impl Buyers {
    pub fn new(customers: Vec<Customer>) -> Buyers {
        let lives: Vec<Lifecycle> = customers.iter().map(|c| c.life).collect();
        let mut joins: Vec<usize> = (0..lives.len()).collect();
        joins.sort_by_key(|&i| lives[i].joins_at);
        let mut leaves = joins.clone();
        leaves.sort_by_key(|&i| lives[i].leaves_at);
        Buyers {
            customers,
            tree: vec![0.0; lives.len() + 1],
            lives,
            joins,
            leaves,
            next_join: 0,
            next_leave: 0,
        }
    }

    /// The customer who places an order at `at`, chosen by `u` ∈ [0, 1).
    pub fn pick(&mut self, at: NaiveDateTime, u: f64) -> &Customer {
        let index = self.pick_index(at, u);
        &self.customers[index]
    }

    fn pick_index(&mut self, at: NaiveDateTime, u: f64) -> usize {
        while let Some(&i) = self.joins.get(self.next_join) {
            if self.lives[i].joins_at > at {
                break;
            }
            if self.lives[i].leaves_at > at {
                self.add(i, self.lives[i].rate);
            }
            self.next_join += 1;
        }
        while let Some(&i) = self.leaves.get(self.next_leave) {
            if self.lives[i].leaves_at > at {
                break;
            }
            // Only customers already in the tree come out of it.
            if self.lives[i].joins_at <= at && self.lives[i].joins_at < self.lives[i].leaves_at {
                self.add(i, -self.lives[i].rate);
            }
            self.next_leave += 1;
        }
        let total = self.prefix(self.lives.len());
        if total <= 1e-12 {
            // Nobody present (a tiny generation): the most active customer places it.
            return 0;
        }
        self.find(u * total)
    }

    fn add(&mut self, index: usize, delta: f64) {
        let mut i = index + 1;
        while i < self.tree.len() {
            self.tree[i] += delta;
            i += i & i.wrapping_neg();
        }
    }

    fn prefix(&self, count: usize) -> f64 {
        let (mut i, mut sum) = (count, 0.0);
        while i > 0 {
            sum += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }

    /// The index whose cumulative rate interval holds `target`.
    fn find(&self, mut target: f64) -> usize {
        let n = self.tree.len() - 1;
        let (mut position, mut step) = (0, n.next_power_of_two());
        while step > 0 {
            let next = position + step;
            if next <= n && self.tree[next] <= target {
                position = next;
                target -= self.tree[next];
            }
            step /= 2;
        }
        // Rounding can land past the last present customer; step back to one with a rate.
        let mut index = position.min(n - 1);
        while index > 0 && self.prefix(index + 1) - self.prefix(index) <= 0.0 {
            index -= 1;
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            + Duration::days(day)
    }

    #[test]
    fn only_customers_present_are_picked_in_proportion_to_their_rates() {
        let lives = vec![
            Lifecycle {
                joins_at: at(0),
                leaves_at: at(10),
                rate: 3.0,
            },
            Lifecycle {
                joins_at: at(0),
                leaves_at: at(100),
                rate: 1.0,
            },
            Lifecycle {
                joins_at: at(20),
                leaves_at: at(100),
                rate: 1.0,
            },
        ];
        let customers = lives
            .into_iter()
            .enumerate()
            .map(|(i, life)| Customer {
                id: i as u64,
                type_id: 1,
                location_id: 1,
                life,
            })
            .collect();
        let mut buyers = Buyers::new(customers);
        let mut pick = |day, u| buyers.pick(at(day), u).id as usize;
        let picks: Vec<usize> = (0..100).map(|k| pick(1, k as f64 / 100.0)).collect();
        assert_eq!(picks.iter().filter(|&&i| i == 0).count(), 75);
        assert_eq!(picks.iter().filter(|&&i| i == 1).count(), 25);
        // Day 15: the first has left, the third not yet joined.
        assert!((0..10).all(|k| pick(15, k as f64 / 10.0) == 1));
        let late: Vec<usize> = (0..10).map(|k| pick(30, k as f64 / 10.0)).collect();
        assert_eq!(late.iter().filter(|&&i| i == 2).count(), 5);
        assert!(!late.contains(&0));
    }

    #[test]
    fn the_skew_and_the_turnover_are_there() {
        let start = at(0);
        let lives = lifecycles(1, 1000, start, 180);
        assert!(lives[0].rate > 20.0 * lives[999].rate);
        let joined_late = lives.iter().filter(|l| l.joins_at > start).count();
        let left = lives.iter().filter(|l| l.leaves_at < at(180)).count();
        assert!((300..500).contains(&joined_late), "{joined_late}");
        assert!((150..600).contains(&left), "{left}");
    }
}
