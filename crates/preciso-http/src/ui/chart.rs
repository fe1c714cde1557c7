//! Charts as inline SVG drawn on the server with `plotters`: price history as step lines per
//! store, a histogram, a score trend. They need no script, print, and are accessible: each
//! `<svg>` is an image with a title and a description, and every page shows the same numbers
//! in a table beside it. Lines differ by colour and by dash pattern, never by colour alone.

use plotters::prelude::*;

pub const WIDTH: u32 = 760;
pub const HEIGHT: u32 = 300;

/// Okabe–Ito colours: told apart with the common colour-vision deficiencies, each with at
/// least 3:1 contrast on white.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 128, 96),
    RGBColor(204, 121, 167),
    RGBColor(86, 86, 86),
    RGBColor(160, 120, 0),
    RGBColor(86, 180, 233),
];

pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The CSS colour of series `i` (for the legend of the data table).
pub fn css_colour(i: usize) -> String {
    let RGBColor(r, g, b) = colour(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// One line: its name and points (x, y), in x order.
pub struct Series {
    pub name: String,
    pub points: Vec<(i64, f64)>,
}

/// What an `<svg>` is labelled with.
pub struct Label<'a> {
    /// Unique in the page (the ids of its title and description derive from it).
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
}

/// Makes plotters' `<svg>` an accessible, scalable image: `role="img"`, `aria-labelledby` its
/// `<title>` and `<desc>`, and no fixed size (the style sheet sizes it to its container).
fn accessible(svg: String, label: &Label<'_>) -> String {
    let Some(open_end) = svg.find('>') else { return svg };
    let (open, rest) = svg.split_at(open_end);
    let open = open.replacen(&format!(" width=\"{WIDTH}\""), "", 1).replacen(
        &format!(" height=\"{HEIGHT}\""),
        "",
        1,
    );
    let id = label.id;
    format!(
        "{open} role=\"img\" class=\"chart\" aria-labelledby=\"{id}-t {id}-d\">\
         <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>{}",
        maud::html! { (label.title) }.into_string(),
        maud::html! { (label.desc) }.into_string(),
        &rest[1..]
    )
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-9);
    ((lo - pad).max(0.0), hi + pad)
}

/// Lines over time (Unix seconds on x); `step` draws each value flat until the next one, and
/// the last until `until`. `y_label` writes the y axis' values.
pub fn time_lines(
    series: &[Series],
    until: i64,
    step: bool,
    y_label: &dyn Fn(f64) -> String,
    label: &Label<'_>,
) -> String {
    let mut svg = String::new();
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (x0, x1) = match (xs.clone().min(), xs.max()) {
        (Some(a), Some(b)) => (a, b.max(until).max(a + 3600)),
        _ => return String::new(),
    };
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (y0, y1) = padded(ys.clone().fold(f64::MAX, f64::min), ys.fold(f64::MIN, f64::max));
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        if draw_lines(&root, series, (x0, x1, y0, y1), until, step, y_label).is_err() {
            return String::new();
        }
    }
    accessible(svg, label)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw_lines<'a>(
    root: &Area<'a>,
    series: &[Series],
    (x0, x1, y0, y1): (i64, i64, f64, f64),
    until: i64,
    step: bool,
    y_label: &dyn Fn(f64) -> String,
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(120)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(5)
        .light_line_style(RGBColor(235, 235, 235))
        .x_label_formatter(&|t| {
            if x1 - x0 < 3 * 86_400 { super::format::hour(*t) } else { super::format::day(*t) }
        })
        .y_label_formatter(&|v| y_label(*v))
        .label_style(("sans-serif", 15).into_font().color(&RGBColor(51, 51, 51)))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let style = ShapeStyle::from(colour(i)).stroke_width(2 + (i % 2) as u32);
        let mut points: Vec<(i64, f64)> = Vec::with_capacity(s.points.len() * 2 + 1);
        for (j, p) in s.points.iter().enumerate() {
            if step && j > 0 {
                points.push((p.0, s.points[j - 1].1));
            }
            points.push(*p);
        }
        if step && let Some(last) = s.points.last().filter(|l| l.0 < until) {
            points.push((until, last.1));
        }
        let drawn = if i % 2 == 1 {
            chart.draw_series(DashedLineSeries::new(points, 6, 4, style))?
        } else {
            chart.draw_series(LineSeries::new(points, style))?
        };
        drawn.label(s.name.as_str()).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], ShapeStyle::from(colour(i)).stroke_width(3))
        });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(153, 153, 153))
        .label_font(("sans-serif", 15).into_font().color(&RGBColor(26, 26, 26)))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

/// One bar of a histogram: `[from, to)` and its count.
pub struct Bin {
    pub from: f64,
    pub to: f64,
    pub count: u64,
}

/// A histogram; `x_label` writes the x axis' values.
pub fn histogram(bins: &[Bin], x_label: &dyn Fn(f64) -> String, label: &Label<'_>) -> String {
    let (Some(first), Some(last)) = (bins.first(), bins.last()) else { return String::new() };
    let top = bins.iter().map(|b| b.count).max().unwrap_or(1).max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let x = (first.from, last.to.max(first.from + 1e-9));
        if draw_bins(&root, bins, x, top, x_label).is_err() {
            return String::new();
        }
    }
    accessible(svg, label)
}

fn draw_bins<'a>(
    root: &Area<'a>,
    bins: &[Bin],
    (x0, x1): (f64, f64),
    top: u64,
    x_label: &dyn Fn(f64) -> String,
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, 0u64..top + top / 10 + 1)?;
    chart
        .configure_mesh()
        .x_labels(5)
        .y_labels(5)
        .light_line_style(RGBColor(235, 235, 235))
        .x_label_formatter(&|v| x_label(*v))
        .label_style(("sans-serif", 15).into_font().color(&RGBColor(51, 51, 51)))
        .draw()?;
    chart.draw_series(bins.iter().map(|b| {
        Rectangle::new([(b.from, 0), (b.to, b.count)], colour(0).filled().stroke_width(1))
    }))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label() -> Label<'static> {
        Label { id: "c1", title: "Precio <historial> & tiendas", desc: "Dos tiendas" }
    }

    #[test]
    fn a_history_chart_is_an_accessible_svg_with_a_step_line_per_store() {
        let series = vec![
            Series { name: "Tienda & Cía".into(), points: vec![(0, 100.0), (86_400, 80.0)] },
            Series { name: "otra".into(), points: vec![(0, 120.0)] },
        ];
        let svg = time_lines(&series, 3 * 86_400, true, &|v| format!("{v:.0}"), &label());
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains(r#"role="img""#) && svg.contains(r#"aria-labelledby="c1-t c1-d""#));
        assert!(svg.contains("<title id=\"c1-t\">Precio &lt;historial&gt; &amp; tiendas</title>"));
        assert!(svg.contains("viewBox"), "scalable: {}", &svg[..200]);
        let open = &svg[..svg.find('>').unwrap()];
        assert!(!open.contains("width=") && !open.contains("height="), "no fixed size: {open}");
        // The legend names each store (escaped), and nothing is styled inline (the CSP).
        assert!(svg.contains("Tienda &amp; Cía") && svg.contains("otra"));
        assert!(!svg.contains("style="), "inline styles are refused by the CSP");
    }

    #[test]
    fn a_histogram_has_a_bar_per_bin() {
        let bins =
            vec![Bin { from: 0.0, to: 10.0, count: 3 }, Bin { from: 10.0, to: 20.0, count: 7 }];
        let svg = histogram(&bins, &|v| format!("{v:.0}"), &label());
        assert_eq!(svg.matches("<rect").count(), 3, "background and two bars: {svg}");
        assert!(histogram(&[], &|v| v.to_string(), &label()).is_empty());
    }
}
