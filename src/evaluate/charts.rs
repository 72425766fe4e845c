//! Figures for a paper, each as PNG and SVG: feature importances as horizontal bars (one
//! colour per test set, long feature names readable) and a confusion-matrix heatmap.
//! Text uses the DejaVu Sans font compiled into the binary, so no system font is needed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Error, Result};

/// Colour-blind-safe colours (Okabe and Ito), one per series.
const SERIES_COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
];

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font compiled in; failure would be a build defect.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// One series of bars: a name for the legend, a value per bar, optionally a ± spread.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<f64>,
    pub spread: Option<Vec<f64>>,
}

/// `base.png` and `base.svg` drawn by `draw` on canvases of `size` pixels.
fn both_formats<E1: std::fmt::Display, E2: std::fmt::Display>(
    base: &Path,
    size: (u32, u32),
    draw_png: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<(), E1>,
    draw_svg: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), E2>,
) -> Result<Vec<PathBuf>> {
    register_font();
    let png = base.with_extension("png");
    let svg = base.with_extension("svg");
    draw_png(&BitMapBackend::new(&png, size).into_drawing_area()).map_err(|e| Error::output(&png, e))?;
    draw_svg(&SVGBackend::new(&svg, size).into_drawing_area()).map_err(|e| Error::output(&svg, e))?;
    Ok(vec![png, svg])
}

fn text_width<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str, size: f64) -> u32 {
    area.estimate_text_size(text, &TextStyle::from((FONT, size).into_font()))
        .map(|(w, _)| w)
        .unwrap_or(text.len() as u32 * 8)
}

/// A horizontal bar chart: one group of bars per name (top to bottom in the given order),
/// one bar per series in each group.
pub fn bar_chart(
    base: &Path,
    title: &str,
    x_description: &str,
    names: &[String],
    series: &[Series],
) -> Result<Vec<PathBuf>> {
    let group_height = 10 + 16 * series.len() as u32;
    let height = (150 + group_height * names.len() as u32).max(360);
    both_formats(
        base,
        (1100, height),
        |a| draw_bars(a, title, x_description, names, series),
        |a| draw_bars(a, title, x_description, names, series),
    )
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_description: &str,
    names: &[String],
    series: &[Series],
) -> DrawResult<(), DB> {
    root.fill(&WHITE)?;
    let label_size = 15.0;
    let label_width = names.iter().map(|n| text_width(root, n, label_size)).max().unwrap_or(0) + 16;
    let (mut low, mut high) = (0.0f64, 0.0f64);
    for s in series {
        for (i, v) in s.values.iter().enumerate() {
            let spread = s.spread.as_ref().map_or(0.0, |sp| sp[i]);
            low = low.min(v - spread);
            high = high.max(v + spread);
        }
    }
    if high - low <= 0.0 {
        high = low + 1.0;
    }
    let pad = (high - low) * 0.04;
    let n = names.len() as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(label_width)
        .build_cartesian_2d((low - if low < 0.0 { pad } else { 0.0 })..(high + pad), 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .y_labels(0)
        .x_desc(x_description)
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .draw()?;
    let bar = 0.8 / series.len().max(1) as f64;
    for (s, one) in series.iter().enumerate() {
        let colour = SERIES_COLOURS[s % SERIES_COLOURS.len()];
        let bars = one.values.iter().enumerate().map(|(i, &v)| {
            let top = n - i as f64 - 0.1 - bar * s as f64;
            Rectangle::new([(0.0, top), (v, top - bar)], colour.filled())
        });
        chart
            .draw_series(bars)?
            .label(one.name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        if let Some(spread) = &one.spread {
            let whiskers = one.values.iter().zip(spread).enumerate().map(|(i, (&v, &sd))| {
                let middle = n - i as f64 - 0.1 - bar * (s as f64 + 0.5);
                PathElement::new(vec![(v - sd, middle), (v + sd, middle)], BLACK.stroke_width(1))
            });
            chart.draw_series(whiskers)?;
        }
    }
    if series.len() > 1 || series.first().is_some_and(|s| !s.name.is_empty()) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 15))
            .draw()?;
    }
    // Names drawn by hand beside their bars: the mesh labels of a numeric axis cannot be
    // placed at the middle of each group.
    let style = TextStyle::from((FONT, label_size).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, name) in names.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(chart.x_range().start, n - i as f64 - 0.5));
        root.draw_text(name, &style, (x - 8, y))?;
    }
    root.present()
}

/// Heatmap of a confusion matrix: true classes down, predicted across, each cell shaded by
/// the share of its row (the recall of the true class) and labelled with its count.
pub fn confusion_chart(base: &Path, title: &str, labels: &[String], confusion: &[Vec<u64>]) -> Result<Vec<PathBuf>> {
    let k = labels.len().max(1) as u32;
    let cell = (900 / k).clamp(16, 60);
    // Room for the longest label on the left and (turned) at the bottom, at ~8 px a char.
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as u32;
    let label_room = longest * 8 + 30;
    // Two or three classes make a narrow chart: wide enough for the title too.
    register_font();
    let mut scratch = String::new();
    let title_width = text_width(&SVGBackend::with_string(&mut scratch, (1, 1)).into_drawing_area(), title, 22.0);
    let size = ((label_room + cell * k + 140).max(title_width + 40), label_room + cell * k + 110);
    both_formats(
        base,
        size,
        |a| draw_confusion(a, title, labels, confusion, cell),
        |a| draw_confusion(a, title, labels, confusion, cell),
    )
}

fn draw_confusion<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    labels: &[String],
    confusion: &[Vec<u64>],
    cell: u32,
) -> DrawResult<(), DB> {
    root.fill(&WHITE)?;
    let k = labels.len();
    let label_size = f64::from(cell.clamp(16, 30)) * 0.55 + 4.0;
    let label_room = labels.iter().map(|l| text_width(root, l, label_size)).max().unwrap_or(0) + 20;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(15)
        .margin_right(110)
        .x_label_area_size(label_room + 30)
        .y_label_area_size(label_room + 30)
        .build_cartesian_2d(0.0..k as f64, 0.0..k as f64)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .x_desc("predicted class")
        .y_desc("true class")
        .axis_desc_style((FONT, 17))
        .draw()?;
    let shade = |share: f64| {
        // White to deep blue.
        let mix = |from: f64, to: f64| (from + (to - from) * share).round() as u8;
        RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
    };
    let count_size = f64::from(cell) * 0.45;
    for (i, row) in confusion.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (j, &count) in row.iter().enumerate() {
            let share = if total == 0 { 0.0 } else { count as f64 / total as f64 };
            let y = (k - 1 - i) as f64;
            let rect = Rectangle::new([(j as f64, y), (j as f64 + 1.0, y + 1.0)], shade(share).filled());
            chart.draw_series(std::iter::once(rect))?;
            if count > 0 && cell >= 18 {
                let colour = if share > 0.5 { WHITE } else { BLACK };
                let style = TextStyle::from((FONT, count_size).into_font())
                    .color(&colour)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                let (px, py) = chart.backend_coord(&(j as f64 + 0.5, y + 0.5));
                root.draw_text(&count.to_string(), &style, (px, py))?;
            }
        }
    }
    let left = TextStyle::from((FONT, label_size).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    // Turned 270° the text reads upwards and ends at the axis, as in matplotlib.
    let below = TextStyle::from((FONT, label_size).into_font().transform(FontTransform::Rotate270))
        .pos(Pos::new(HPos::Right, VPos::Center));
    for (i, label) in labels.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, (k - 1 - i) as f64 + 0.5));
        root.draw_text(label, &left, (x - 8, y))?;
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw_text(label, &below, (x, y + 8))?;
    }
    // Colour scale: share of the true class's rows.
    let (x0, y0) = chart.backend_coord(&(k as f64, k as f64));
    let (_, y1) = chart.backend_coord(&(k as f64, 0.0));
    let (bar_x, steps) = (x0 + 25, 50);
    for s in 0..steps {
        let share = 1.0 - s as f64 / steps as f64;
        let top = y0 + (y1 - y0) * s / steps;
        let bottom = y0 + (y1 - y0) * (s + 1) / steps;
        root.draw(&Rectangle::new([(bar_x, top), (bar_x + 18, bottom + 1)], shade(share).filled()))?;
    }
    root.draw(&Rectangle::new([(bar_x, y0), (bar_x + 18, y1)], BLACK.stroke_width(1)))?;
    let scale = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (share, text) in [(1.0, "100 %"), (0.5, "50 %"), (0.0, "0 %")] {
        let y = y1 - ((y1 - y0) as f64 * share) as i32;
        root.draw_text(text, &scale, (bar_x + 24, y))?;
    }
    let caption = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
    root.draw_text("share of row", &caption, (bar_x - 10, y1 + 10))?;
    root.present()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confusion_chart_of_two_classes_is_wide_enough_for_its_title() {
        let dir = tempfile::tempdir().unwrap();
        let title = "Confusion matrix: Nexus 7 held-out (12345 rows, accuracy 0.987)";
        let labels = ["a".to_owned(), "b".to_owned()];
        let files = confusion_chart(&dir.path().join("c"), title, &labels, &[vec![3, 1], vec![0, 4]]).unwrap();
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        let width: u32 = svg.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        let mut scratch = String::new();
        let needed = text_width(&SVGBackend::with_string(&mut scratch, (1, 1)).into_drawing_area(), title, 22.0);
        assert!(needed > 500 && width >= needed + 30, "chart {width} px wide, title {needed} px");
    }
}
