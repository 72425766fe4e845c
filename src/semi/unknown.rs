//! Apps never seen: the forest is trained without some classes, and a flow whose most
//! likely class has a probability (the forest's mean leaf share) below a threshold is called
//! "unknown".
//! Scored as the share of the held-out apps' flows called unknown (wanted: high) against
//! the share of the known apps' test flows called unknown (false unknowns: low), at the
//! chosen threshold and over a sweep of thresholds.
//!
//! Without a given threshold it is calibrated on the training rows alone: a forest
//! trained on a stratified 70 % of them votes on the other 30 %, and the threshold is
//! the probability below which 5 % of those (known) flows fall.

use ndarray::Axis;
use serde::Serialize;

use flowmine_forest::random::derive;

use super::{Prepared, confident_predictions};
use crate::Error;
use crate::evaluate::split::{self, SplitConfig};
use crate::evaluate::{EvaluateConfig, Forest};

/// Stream name under the run's seed.
const CALIBRATION: u64 = 32;
/// The false-unknown rate a calibrated threshold aims at on known apps.
pub const CALIBRATION_RATE: f64 = 0.05;
/// The thresholds of the sweep.
pub const SWEEP: [f64; 10] = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0];

/// The label given to low-confidence flows.
pub const UNKNOWN: &str = "unknown";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    pub threshold: f64,
    /// Held-out apps' flows called unknown, and their share.
    pub held_out_unknown: u64,
    pub held_out_unknown_rate: f64,
    /// Known apps' test flows called unknown (false unknowns), and their share.
    pub known_unknown: u64,
    pub false_unknown_rate: f64,
    /// Known apps' test flows given their right class.
    pub known_right: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnknownApps {
    pub held_out_classes: Vec<String>,
    pub threshold: f64,
    pub calibrated: bool,
    pub held_out_rows: u64,
    pub known_test_rows: u64,
    pub at_threshold: Rates,
    pub sweep: Vec<Rates>,
    /// Held-out flows per held-out class: (class, flows, called unknown, most common
    /// known class they were taken for).
    pub per_class: Vec<(String, u64, u64, String)>,
}

/// The vote-share threshold below which `rate` of the flows of a 30 % calibration part
/// of the `train` rows fall, for a forest trained on the other 70 %.
pub fn calibrate(p: &Prepared, config: &EvaluateConfig, train: &[usize], rate: f64) -> Result<f64, Error> {
    let sub_y: Vec<u32> = train.iter().map(|&r| p.y[r]).collect();
    let split = SplitConfig::Holdout { test_fraction: 0.3 };
    let folds = split::make_folds(&split, &sub_y, None, derive(config.seed, &[CALIBRATION]))?;
    let fold = &folds[0];
    let fit: Vec<usize> = fold.train.iter().map(|&i| train[i]).collect();
    let held: Vec<usize> = fold.tests[0].rows.iter().map(|&i| train[i]).collect();
    let labels: Vec<u32> = fit.iter().map(|&r| p.y[r]).collect();
    let forest = Forest::train(p.x.select(Axis(0), &fit).view(), &labels, p.classes.len(), &config.forest, config.seed)
        .map_err(Error::from)?;
    let (_, mut share) = confident_predictions(&forest, p.x.select(Axis(0), &held).view())?;
    share.sort_by(f64::total_cmp);
    if share.is_empty() {
        return Err(Error::Config("too few training rows to calibrate the unknown threshold".to_owned()));
    }
    // The smallest share at or above which all but `rate` of the rows lie.
    Ok(share[((share.len() as f64 * rate).floor() as usize).min(share.len() - 1)])
}

fn rates(threshold: f64, held: &[f64], known: &[(bool, f64)]) -> Rates {
    let held_out_unknown = held.iter().filter(|&&s| s < threshold).count() as u64;
    let known_unknown = known.iter().filter(|&&(_, s)| s < threshold).count() as u64;
    let known_right = known.iter().filter(|&&(right, s)| right && s >= threshold).count() as u64;
    let share = |a: u64, n: usize| if n == 0 { 0.0 } else { a as f64 / n as f64 };
    Rates {
        threshold,
        held_out_unknown,
        held_out_unknown_rate: share(held_out_unknown, held.len()),
        known_unknown,
        false_unknown_rate: share(known_unknown, known.len()),
        known_right,
    }
}

/// Trains on each fold without the held-out classes (already left out of `p`) and scores
/// the unknown calls. `threshold`: `None` calibrates it on the first fold's training rows.
pub fn unknown_apps(
    p: &Prepared,
    config: &EvaluateConfig,
    held_out_classes: &[String],
    threshold: Option<f64>,
) -> Result<UnknownApps, Error> {
    if let Some(t) = threshold
        && !(0.0..=1.0).contains(&t)
    {
        return Err(Error::setting("unknown_threshold", t, "a probability between 0 and 1"));
    }
    let calibrated = threshold.is_none();
    let threshold = match threshold {
        Some(t) => t,
        None => calibrate(p, config, &p.folds[0].train, CALIBRATION_RATE)?,
    };
    let mut held_share = Vec::new();
    let mut held_predicted = Vec::new();
    let mut known = Vec::new();
    for fold in &p.folds {
        let labels: Vec<u32> = fold.train.iter().map(|&r| p.y[r]).collect();
        let x = p.x.select(Axis(0), &fold.train);
        let forest =
            Forest::train(x.view(), &labels, p.classes.len(), &config.forest, config.seed).map_err(Error::from)?;
        let (predicted, share) = confident_predictions(&forest, p.held_out_x.view())?;
        held_share.push(share);
        held_predicted.push(predicted);
        for test in &fold.tests {
            let (predicted, share) = confident_predictions(&forest, p.x.select(Axis(0), &test.rows).view())?;
            known.extend(test.rows.iter().zip(predicted).zip(share).map(|((&r, c), s)| (p.y[r] == c, s)));
        }
    }
    // Every fold's forest sees every held-out flow: the first fold's calls are reported
    // (one hold-out split has one fold), the shares of all folds pooled in the sweep.
    let all_held: Vec<f64> = held_share.iter().flatten().copied().collect();
    let mut per_class = Vec::new();
    for class in held_out_classes {
        let rows: Vec<usize> = (0..p.held_out_class.len()).filter(|&i| p.held_out_class[i] == *class).collect();
        let unknown = rows.iter().filter(|&&i| held_share[0][i] < threshold).count() as u64;
        let mut taken = vec![0u64; p.classes.len()];
        for &i in &rows {
            taken[held_predicted[0][i] as usize] += 1;
        }
        let most = (0..taken.len()).max_by_key(|&c| (taken[c], std::cmp::Reverse(c))).unwrap_or(0);
        per_class.push((class.clone(), rows.len() as u64, unknown, p.classes[most].clone()));
    }
    Ok(UnknownApps {
        held_out_classes: held_out_classes.to_vec(),
        threshold,
        calibrated,
        held_out_rows: p.held_out_class.len() as u64,
        known_test_rows: known.len() as u64,
        at_threshold: rates(threshold, &all_held, &known),
        sweep: SWEEP.iter().map(|&t| rates(t, &all_held, &known)).collect(),
        per_class,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_shares_below_the_threshold() {
        let r = rates(0.5, &[0.2, 0.5, 0.9, 0.4], &[(true, 0.3), (true, 0.8), (false, 0.9), (true, 0.5)]);
        assert_eq!((r.held_out_unknown, r.known_unknown, r.known_right), (2, 1, 2));
        assert_eq!(r.held_out_unknown_rate, 0.5);
        assert_eq!(r.false_unknown_rate, 0.25);
    }
}
