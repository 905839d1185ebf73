//! A ranking's cumulative-gains curve: lift of a top fraction (boundary ties counted
//! fractionally) and the Gini.

/// A ranking's cumulative-gains curve: buyers grouped by equal score, best score first, with
/// how many of each group buy again.
#[derive(Debug, Clone)]
pub struct Gains {
    /// (score, buyers, buyers who buy again), by score descending.
    groups: Vec<(f64, usize, usize)>,
    pub(super) buyers: usize,
    pub(super) positives: usize,
}

/// Where a top fraction ends in a ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// Buyers who buy again in the top fraction (fractional for the boundary group).
    pub captured: f64,
    pub boundary_score: f64,
    pub boundary_group: usize,
    pub boundary_positives: usize,
    /// The boundary group's share inside the top fraction.
    pub included: f64,
}

impl Gains {
    /// From (score, buys again) pairs; higher scores rank first, equal scores are one group.
    pub fn new(items: impl IntoIterator<Item = (f64, bool)>) -> Self {
        let mut items: Vec<(f64, bool)> = items.into_iter().collect();
        items.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut groups: Vec<(f64, usize, usize)> = Vec::new();
        for (score, positive) in &items {
            match groups.last_mut() {
                Some(last) if last.0.total_cmp(score).is_eq() => {
                    last.1 += 1;
                    last.2 += usize::from(*positive);
                }
                _ => groups.push((*score, 1, usize::from(*positive))),
            }
        }
        Gains {
            buyers: items.len(),
            positives: items.iter().filter(|i| i.1).count(),
            groups,
        }
    }

    /// The ranking that knows the outcome.
    pub fn perfect(outcomes: impl IntoIterator<Item = bool>) -> Self {
        Gains::new(outcomes.into_iter().map(|y| (f64::from(u8::from(y)), y)))
    }

    pub fn base_rate(&self) -> f64 {
        self.positives as f64 / self.buyers.max(1) as f64
    }

    /// The top `fraction` of buyers: whom it captures, and the tied group at its boundary.
    pub fn cut(&self, fraction: f64) -> Cut {
        let target = fraction * self.buyers as f64;
        let (mut taken, mut captured) = (0.0, 0.0);
        let mut cut = Cut {
            captured: 0.0,
            boundary_score: f64::NAN,
            boundary_group: 0,
            boundary_positives: 0,
            included: 0.0,
        };
        for (score, size, positives) in &self.groups {
            let size_f = *size as f64;
            let included = ((target - taken) / size_f).clamp(0.0, 1.0);
            captured += included * *positives as f64;
            if included < 1.0 || taken + size_f >= target {
                cut = Cut {
                    captured,
                    boundary_score: *score,
                    boundary_group: *size,
                    boundary_positives: *positives,
                    included,
                };
                break;
            }
            taken += size_f;
        }
        Cut { captured, ..cut }
    }

    /// The top `fraction`'s share of buyers who buy again over the base rate.
    pub fn lift(&self, fraction: f64) -> f64 {
        self.lift_of(fraction, self.cut(fraction).captured)
    }

    pub(super) fn lift_of(&self, fraction: f64, captured: f64) -> f64 {
        let base = self.base_rate();
        let top = fraction * self.buyers as f64;
        if base == 0.0 || top == 0.0 {
            return f64::NAN;
        }
        captured / top / base
    }

    /// Twice the area between the cumulative-gains curve and the diagonal (ties averaged: a tied
    /// group's buyers who buy again are spread evenly over it).
    pub fn gini(&self) -> f64 {
        if self.positives == 0 || self.buyers == 0 {
            return f64::NAN;
        }
        let (n, p) = (self.buyers as f64, self.positives as f64);
        let mut area = 0.0;
        let mut y = 0.0;
        for (_, size, positives) in &self.groups {
            let next = y + *positives as f64 / p;
            area += *size as f64 / n * (y + next) / 2.0;
            y = next;
        }
        2.0 * area - 1.0
    }
}
