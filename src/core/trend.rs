//! Trend rules (issue 10), pure: a heapless ring of the window's P50 taken
//! once a minute over the current incarnation (512 points, 8.5 h), and
//! the test for "growing in a straight line" the trend rules
//! (`core::trend_rules`) are built on: least-squares fits over spans ending
//! now (30 min … 8 h, the shortest that makes the case wins), significant
//! after correcting for autocorrelated residuals, better than one step,
//! above the wander the incarnation has shown, and making new highs — so a
//! config step, a warm-up's tail or a slow wander is not a leak.
//!
//! No allocation: fits work on stack copies of the ring.

use heapless::Deque;

/// Ring capacity: one point a minute covers 8.5 hours.
pub const RING: usize = 512;
/// Seconds between two ring points.
pub const POINT_S: u32 = 60;
/// Candidate fit spans, in minutes, shortest first.
const SPANS_MIN: [u32; 9] = [30, 45, 60, 90, 120, 180, 240, 360, 480];
/// Now must top every earlier P50 by this fraction of the least rise.
const NEW_HIGH: f64 = 0.5;
/// The lag of the wander estimate.
const WANDER_LAG_S: u32 = 30 * 60;
/// A fit must rise this many wander deviations.
const WANDER_FACTOR: f64 = 3.0;
/// The fit's t statistic must reach this.
const T_MIN: f64 = 4.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Point {
    /// Seconds since the incarnation's first sample.
    pub secs: u32,
    pub p50: u64,
}

/// The P50 history of one incarnation.
pub struct Ring {
    points: Deque<Point, RING>,
}

impl Default for Ring {
    fn default() -> Ring {
        Ring {
            points: Deque::new(),
        }
    }
}

impl Ring {
    pub fn push(&mut self, p: Point) {
        if self.points.is_full() {
            self.points.pop_front();
        }
        let _ = self.points.push_back(p);
    }
    pub fn clear(&mut self) {
        self.points.clear();
    }
    pub fn len(&self) -> usize {
        self.points.len()
    }
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
    pub fn last(&self) -> Option<Point> {
        self.points.back().copied()
    }
    /// The latest point taken at or before `secs`.
    pub fn at(&self, secs: u32) -> Option<Point> {
        self.points.iter().rev().find(|p| p.secs <= secs).copied()
    }
    /// Copies the points taken at or after `from` onto the stack.
    fn since(&self, from: u32) -> heapless::Vec<Point, RING> {
        let mut v = heapless::Vec::new();
        for p in self.points.iter().filter(|p| p.secs >= from) {
            let _ = v.push(*p);
        }
        v
    }
}

/// A least-squares line through a span of points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Bytes per hour.
    pub slope: f64,
    /// Slope × span: how much the line rose.
    pub rise: f64,
    /// Slope over its standard error, inflated for autocorrelated residuals.
    pub t: f64,
    /// A line explains the span better than the best single step.
    pub linear: bool,
}

/// Fits a line through `pts` (at least 8 points), or `None`.
pub fn fit(pts: &[Point]) -> Option<Fit> {
    let n = pts.len();
    if n < 8 {
        return None;
    }
    let nf = n as f64;
    let x = |p: &Point| f64::from(p.secs) / 3600.0;
    let y = |p: &Point| p.p50 as f64;
    let mx = pts.iter().map(x).sum::<f64>() / nf;
    let my = pts.iter().map(y).sum::<f64>() / nf;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for p in pts {
        sxx += (x(p) - mx) * (x(p) - mx);
        sxy += (x(p) - mx) * (y(p) - my);
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let resid = |p: &Point| y(p) - my - slope * (x(p) - mx);
    let (mut sse, mut lag) = (0.0, 0.0);
    for (i, p) in pts.iter().enumerate() {
        let e = resid(p);
        sse += e * e;
        if i > 0 {
            lag += e * resid(&pts[i - 1]);
        }
    }
    let rho = if sse > 0.0 {
        (lag / sse).clamp(0.0, 0.98)
    } else {
        0.0
    };
    let se = (sse / (nf - 2.0) / sxx * (1.0 + rho) / (1.0 - rho)).sqrt();
    let t = if se > 0.0 { slope / se } else { f64::INFINITY };
    let span = x(&pts[n - 1]) - x(&pts[0]);
    Some(Fit {
        slope,
        rise: slope * span,
        t,
        linear: sse < step_sse(pts),
    })
}

/// The residual sum of squares of the best two-level (one step) model.
fn step_sse(pts: &[Point]) -> f64 {
    let (mut total, mut total_sq) = (0.0, 0.0);
    for p in pts {
        let v = p.p50 as f64;
        total += v;
        total_sq += v * v;
    }
    let n = pts.len();
    let (mut left, mut left_sq) = (0.0, 0.0);
    let mut best = f64::INFINITY;
    for (i, p) in pts.iter().enumerate().take(n - 1) {
        let v = p.p50 as f64;
        left += v;
        left_sq += v * v;
        let k = (i + 1) as f64;
        let r = (n - i - 1) as f64;
        let sse_l = left_sq - left * left / k;
        let sse_r = (total_sq - left_sq) - (total - left) * (total - left) / r;
        best = best.min(sse_l + sse_r);
    }
    best
}

/// Straight-line growth since `from`: the shortest span ending now that
/// makes the case, or `None`. A span makes it when
/// - the line is significant (t ≥ 4) and explains it better than a step;
/// - memory rose at least `rise_min` and 3 × the wander seen before the
///   span — by the line, or from the median before the span to now (a
///   leak's onset makes the line lag) unless P50 jumped since `from`;
/// - no jump inside the span carries half the rise (a step, not a leak);
/// - now tops every P50 before the span by half the least rise (a leak
///   makes new highs; a wander comes back);
/// - the slope is at least `rate_min` (bytes per hour).
pub fn growing(ring: &Ring, from: u32, rise_min: f64, rate_min: f64) -> Option<Fit> {
    let last = ring.last()?;
    if last.secs < from.saturating_add(SPANS_MIN[0] * 60) {
        return None;
    }
    // The settling half hour before `from` counts for the wander only.
    let all = ring.since(from.saturating_sub(WANDER_LAG_S));
    let pts = &all[all.iter().take_while(|p| p.secs < from).count()..];
    let jumped = max_jump(pts);
    let now = last.p50 as f64;
    for span in SPANS_MIN {
        let want = last.secs.saturating_sub(span * 60);
        let start = want.max(from);
        let skip = pts.iter().take_while(|p| p.secs < start).count();
        let (before, inside) = pts.split_at(skip);
        let until = all.iter().take_while(|p| p.secs <= start).count();
        let noise = wander(&all[..until]).or_else(|| wander(&all))?;
        let least = rise_min.max(WANDER_FACTOR * noise);
        let high = before.iter().map(|p| p.p50).max().unwrap_or(0) as f64;
        let since_ref = median_p50(before).map_or(0.0, |m| now - m as f64);
        let since_ref = if 2.0 * jumped < since_ref {
            since_ref
        } else {
            0.0
        };
        if let Some(f) = fit(inside) {
            let rise = since_ref.max(f.rise);
            if f.t >= T_MIN
                && f.linear
                && rise >= least
                && 2.0 * max_jump(inside) < rise
                && now - high >= least * NEW_HIGH
                && f.slope >= rate_min
            {
                return Some(Fit { rise, ..f });
            }
        }
        if want <= from {
            break;
        }
    }
    None
}

/// How far P50 jumped at once: the most that the three points after any
/// instant all sit above the three before it (a sawtooth's jitter does not).
fn max_jump(pts: &[Point]) -> f64 {
    let mut jump = 0.0f64;
    for i in 3..pts.len() {
        let before = pts[i - 3..i].iter().map(|p| p.p50).max().unwrap_or(0);
        let after = pts[i..(i + 3).min(pts.len())]
            .iter()
            .map(|p| p.p50)
            .min()
            .unwrap_or(0);
        jump = jump.max(after as f64 - before as f64);
    }
    jump
}

/// The median P50 of `pts` (at least five), `None` otherwise.
fn median_p50(pts: &[Point]) -> Option<u64> {
    if pts.len() < 5 {
        return None;
    }
    let mut v: heapless::Vec<u64, RING> = heapless::Vec::new();
    for p in pts {
        let _ = v.push(p.p50);
    }
    let mid = v.len() / 2;
    Some(*v.select_nth_unstable(mid).1)
}

/// How far P50 wanders by itself over half an hour: the median absolute
/// deviation (× 1.4826, a standard deviation for normal noise) of the
/// 30-minute P50 changes between `from` and `until`. Robust to a few steps.
/// `None` before there are ten such changes.
pub fn wander(pts: &[Point]) -> Option<f64> {
    let lag = (WANDER_LAG_S / POINT_S) as usize;
    let mut diffs: heapless::Vec<i64, RING> = heapless::Vec::new();
    for i in lag..pts.len() {
        let _ = diffs.push(smooth(pts, i) as i64 - smooth(pts, i - lag) as i64);
    }
    if diffs.len() < 10 {
        return None;
    }
    let mid = diffs.len() / 2;
    let median = *diffs.select_nth_unstable(mid).1;
    for d in diffs.iter_mut() {
        *d = (*d - median).abs();
    }
    let mad = *diffs.select_nth_unstable(mid).1;
    Some(mad as f64 * 1.4826)
}

/// The median of the five points around `i`: P50 without the jitter a
/// sawtooth's phase gives it.
fn smooth(pts: &[Point], i: usize) -> u64 {
    let lo = i.saturating_sub(2);
    let hi = (i + 3).min(pts.len());
    let mut v = [0u64; 5];
    let n = hi - lo;
    for (k, p) in pts[lo..hi].iter().enumerate() {
        v[k] = p.p50;
    }
    *v[..n].select_nth_unstable(n / 2).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(f: impl Fn(u32) -> u64, minutes: u32) -> Ring {
        let mut r = Ring::default();
        for m in 0..minutes {
            r.push(Point {
                secs: m * 60,
                p50: f(m),
            });
        }
        r
    }

    /// ±2 MB of deterministic wiggle.
    fn wiggle(m: u32) -> u64 {
        [0, 2, 1, 3, 0, 4, 2, 1][m as usize % 8] * 1_000_000
    }

    #[test]
    fn a_line_grows_a_step_does_not() {
        let line = ring(
            |m| 1_000_000_000 + u64::from(m) * 1_000_000 + wiggle(m),
            120,
        );
        let f = fit(&line.since(0)).expect("fit");
        assert!((f.slope - 60e6).abs() < 2e6, "{f:?}");
        assert!(f.linear && f.t > 10.0, "{f:?}");
        let g = growing(&line, 0, 20e6, 30e6).expect("a leak at 60 MB/h");
        assert!(g.rise >= 20e6);
        assert!(growing(&line, 0, 20e6, 100e6).is_none(), "below the rate");

        let step = ring(
            |m| if m < 80 { 1_000_000_000 } else { 1_150_000_000 } + wiggle(m),
            120,
        );
        assert!(!fit(&step.since(0)).expect("fit").linear);
        assert!(growing(&step, 0, 20e6, 1e6).is_none());
        let flat = ring(|m| 1_000_000_000 + wiggle(m), 120);
        assert!(growing(&flat, 0, 20e6, 0.0).is_none());
    }

    #[test]
    fn wander_needs_history_and_ignores_a_steady_slope() {
        assert_eq!(wander(&ring(wiggle, 35).since(0)), None);
        let line = ring(|m| u64::from(m) * 1_000_000 + wiggle(m), 120);
        let w = wander(&line.since(0)).expect("wander");
        assert!(w < 3e6, "{w}");
        assert_eq!(line.at(90).map(|p| p.secs), Some(60));
        assert_eq!(line.len(), 120);
    }
}
