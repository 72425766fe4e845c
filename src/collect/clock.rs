//! The offset between the phone's clock and the access point's (which stamps the
//! capture), from round trips through adb: each reading of the phone's clock lies between
//! two readings of the AP's, and the tightest round trip bounds the offset best.

use serde::Serialize;

use super::phone::ClockSample;

/// capture (AP) clock − phone clock, as `flowmine label` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClockOffset {
    /// Seconds; the midpoint of the tightest round trip minus the phone's reading.
    pub offset_s: f64,
    /// That round trip, seconds: the offset is within half of it.
    pub round_trip_s: f64,
    /// Round trips made.
    pub rounds: usize,
    /// When it was measured, AP clock, seconds since the epoch.
    pub at: f64,
}

/// The offset from the sample with the shortest round trip; `None` without samples.
pub fn tightest(samples: &[ClockSample]) -> Option<ClockOffset> {
    let best = samples.iter().min_by(|a, b| (a.ap_after - a.ap_before).total_cmp(&(b.ap_after - b.ap_before)))?;
    Some(ClockOffset {
        offset_s: (best.ap_before + best.ap_after) / 2.0 - best.phone,
        round_trip_s: best.ap_after - best.ap_before,
        rounds: samples.len(),
        at: best.ap_before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_round_trip_wins() {
        let samples = [
            ClockSample { ap_before: 100.0, phone: 90.0, ap_after: 100.4 },
            ClockSample { ap_before: 101.0, phone: 93.75, ap_after: 101.1 },
            ClockSample { ap_before: 102.0, phone: 94.0, ap_after: 102.3 },
        ];
        let o = tightest(&samples).unwrap();
        assert!((o.offset_s - 7.3).abs() < 1e-9, "{o:?}");
        assert!((o.round_trip_s - 0.1).abs() < 1e-9);
        assert_eq!((o.rounds, o.at), (3, 101.0));
        assert_eq!(tightest(&[]), None);
    }
}
