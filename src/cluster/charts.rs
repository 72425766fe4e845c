//! The clustering's figures, each as PNG and SVG: a cluster × class heatmap, the 2-D
//! principal-component projection coloured by cluster and by class, and line charts
//! (silhouette against k, learning curves). Text uses the DejaVu Sans font compiled into
//! the binary, as `evaluate`'s charts do.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Error, Result};

const FONT: &str = "sans-serif";

/// Colour-blind-safe colours (Okabe and Ito) first, then more distinct hues.
const COLOURS: [RGBColor; 12] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
    RGBColor(23, 190, 207),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font compiled in; failure would be a build defect.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

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

/// Heatmap of `counts[row][column]`, each cell shaded by its share of the row and
/// labelled with its count.
pub fn heatmap(
    base: &Path,
    title: &str,
    (row_desc, rows): (&str, &[String]),
    (column_desc, columns): (&str, &[String]),
    counts: &[Vec<u64>],
) -> Result<Vec<PathBuf>> {
    let cell = (900 / rows.len().max(columns.len()).max(1) as u32).clamp(18, 60);
    let longest = rows.iter().chain(columns).map(|l| l.chars().count()).max().unwrap_or(1) as u32;
    let room = longest * 8 + 60;
    let size = (room + cell * columns.len() as u32 + 60, room + cell * rows.len() as u32 + 80);
    let (r, c) = ((row_desc, rows), (column_desc, columns));
    both_formats(
        base,
        size,
        |a| draw_heatmap(a, title, r, c, counts, cell, room),
        |a| draw_heatmap(a, title, r, c, counts, cell, room),
    )
}

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    (row_desc, rows): (&str, &[String]),
    (column_desc, columns): (&str, &[String]),
    counts: &[Vec<u64>],
    cell: u32,
    room: u32,
) -> DrawResult<(), DB> {
    root.fill(&WHITE)?;
    let (r, c) = (rows.len(), columns.len());
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(15)
        .x_label_area_size(room)
        .y_label_area_size(room)
        .build_cartesian_2d(0.0..c as f64, 0.0..r as f64)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .x_desc(column_desc)
        .y_desc(row_desc)
        .axis_desc_style((FONT, 16))
        .draw()?;
    let shade = |share: f64| {
        let mix = |from: f64, to: f64| (from + (to - from) * share).round() as u8;
        RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
    };
    let size = f64::from(cell) * 0.4;
    for (i, row) in counts.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (j, &count) in row.iter().enumerate() {
            let share = if total == 0 { 0.0 } else { count as f64 / total as f64 };
            let y = (r - 1 - i) as f64;
            let rect = Rectangle::new([(j as f64, y), (j as f64 + 1.0, y + 1.0)], shade(share).filled());
            chart.draw_series(std::iter::once(rect))?;
            if count > 0 {
                let ink = if share > 0.5 { WHITE } else { BLACK };
                let style =
                    TextStyle::from((FONT, size).into_font()).color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
                let at = chart.backend_coord(&(j as f64 + 0.5, y + 0.5));
                root.draw_text(&count.to_string(), &style, at)?;
            }
        }
    }
    let left = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, label) in rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, (r - 1 - i) as f64 + 0.5));
        root.draw_text(label, &left, (x - 6, y))?;
    }
    let below = TextStyle::from((FONT, 14).into_font().transform(FontTransform::Rotate270))
        .pos(Pos::new(HPos::Right, VPos::Center));
    for (j, label) in columns.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(j as f64 + 0.5, 0.0));
        root.draw_text(label, &below, (x, y + 6))?;
    }
    root.present()
}

/// One scatter panel: points and the group (legend entry) of each.
pub struct Panel<'a> {
    pub title: &'a str,
    pub groups: &'a [String],
    pub group_of_point: &'a [usize],
}

/// Side-by-side scatter plots of the same `points` (x, y), coloured by each panel's groups.
pub fn scatter(base: &Path, axes: (&str, &str), points: &[(f64, f64)], panels: &[Panel]) -> Result<Vec<PathBuf>> {
    let size = (620 * panels.len().max(1) as u32, 620);
    both_formats(base, size, |a| draw_scatter(a, axes, points, panels), |a| draw_scatter(a, axes, points, panels))
}

fn draw_scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    axes: (&str, &str),
    points: &[(f64, f64)],
    panels: &[Panel],
) -> DrawResult<(), DB> {
    root.fill(&WHITE)?;
    let bounds = |f: fn(&(f64, f64)) -> f64| {
        let (lo, hi) = points.iter().map(f).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
        if lo.is_finite() && hi > lo { (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)) } else { (-1.0, 1.0) }
    };
    let (x, y) = (bounds(|p| p.0), bounds(|p| p.1));
    for (area, panel) in root.split_evenly((1, panels.len().max(1))).iter().zip(panels) {
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_desc(axes.0)
            .y_desc(axes.1)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .draw()?;
        for (g, name) in panel.groups.iter().enumerate() {
            let c = colour(g);
            let dots = points
                .iter()
                .zip(panel.group_of_point)
                .filter(|(_, pg)| **pg == g)
                .map(|(&p, _)| Circle::new(p, 2, c.mix(0.6).filled()));
            chart.draw_series(dots)?.label(name.as_str()).legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()?;
    }
    root.present()
}

/// One line of a line chart.
pub struct Line<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
    /// Drawn thin with crosses (a baseline) rather than thick with dots.
    pub dashed: bool,
}

/// A line chart with markers, e.g. accuracy against the labelled fraction.
pub fn line_chart(base: &Path, title: &str, axes: (&str, &str), lines: &[Line]) -> Result<Vec<PathBuf>> {
    both_formats(base, (900, 560), |a| draw_lines(a, title, axes, lines), |a| draw_lines(a, title, axes, lines))
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    axes: (&str, &str),
    lines: &[Line],
) -> DrawResult<(), DB> {
    root.fill(&WHITE)?;
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (x0, x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.0), h.max(p.0)));
    let (y0, y1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.1), h.max(p.1)));
    let pad = |lo: f64, hi: f64| {
        if lo.is_finite() && hi > lo { (lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo)) } else { (lo - 1.0, lo + 1.0) }
    };
    let ((x0, x1), (y0, y1)) = (pad(x0, x1), pad(y0, y1));
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart.configure_mesh().x_desc(axes.0).y_desc(axes.1).label_style((FONT, 13)).axis_desc_style((FONT, 15)).draw()?;
    for (i, line) in lines.iter().enumerate() {
        let c = colour(i);
        // Plain path elements: plotters' line series need a feature the build leaves out.
        let width = if line.dashed { 1 } else { 2 };
        chart
            .draw_series(std::iter::once(PathElement::new(line.points.clone(), c.stroke_width(width))))?
            .label(line.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(width)));
        if line.dashed {
            chart.draw_series(line.points.iter().map(|&p| Cross::new(p, 4, c.stroke_width(2))))?;
            continue;
        }
        chart.draw_series(line.points.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()?;
    root.present()
}
