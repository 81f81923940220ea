//! The page's charts, inline SVG (no script): horizontal bars (records per entity, rejects by
//! reason) and the sync's lag over time, a line per entity.

use super::{escape, grouped};
use crate::sync::lag::LagPoint;
use std::fmt::Write;

/// The sync's lag over time: how many passes, the newest lag of each entity, and a line per
/// entity (seconds behind the source, pass after pass).
pub(super) fn lag_section(points: &[LagPoint]) -> String {
    let mut section = String::from("<section id=\"sync-lag\"><h2>Sync lag</h2>\n");
    let (first, last) = match (points.first(), points.last()) {
        (Some(first), Some(last)) => (first, last),
        _ => return String::new(),
    };
    let newest: Vec<String> = last
        .lag_seconds
        .iter()
        .map(|(entity, seconds)| format!("{} {seconds:.1} s", escape(entity)))
        .collect();
    let _ = writeln!(
        section,
        "<p><b data-figure=\"sync-passes\">{}</b> passes from {} to {}; the newest: {}.</p>",
        grouped(points.len() as u64),
        escape(&first.at),
        escape(&last.at),
        if newest.is_empty() {
            "no entity synced yet".to_owned()
        } else {
            newest.join(", ")
        }
    );
    section.push_str(&lag_chart(points));
    section.push_str("</section>\n");
    section
}

/// A line chart as inline SVG: time across, seconds of lag up, a line per entity.
fn lag_chart(points: &[LagPoint]) -> String {
    const WIDTH: f64 = 640.0;
    const HEIGHT: f64 = 200.0;
    const LEFT: f64 = 60.0;
    const LEGEND: f64 = 170.0;
    const COLOURS: [&str; 6] = [
        "#3b6fb6", "#d9822b", "#16794c", "#b3261e", "#7d4fb3", "#5b6473",
    ];
    let instants: Vec<f64> = points
        .iter()
        .map(|point| {
            offbase_model::time::parse_timestamp(&point.at)
                .map(|instant| instant.timestamp_millis() as f64 / 1000.0)
                .unwrap_or_default()
        })
        .collect();
    let start = instants.first().copied().unwrap_or_default();
    let span = (instants.last().copied().unwrap_or_default() - start).max(1.0);
    let highest = points
        .iter()
        .flat_map(|point| point.lag_seconds.values().copied())
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let x = |instant: f64| LEFT + (instant - start) / span * WIDTH;
    let y = |seconds: f64| 10.0 + HEIGHT - seconds / highest * HEIGHT;
    let entities: std::collections::BTreeSet<&String> = points
        .iter()
        .flat_map(|point| point.lag_seconds.keys())
        .collect();
    let total_width = LEFT + WIDTH + LEGEND;
    let mut svg = format!(
        "<svg id=\"chart-lag\" role=\"img\" width=\"{total_width}\" height=\"{}\" viewBox=\"0 0 {total_width} {}\">\n",
        HEIGHT + 40.0,
        HEIGHT + 40.0
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#aab2bf\"/><line x1=\"{LEFT}\" y1=\"10\" x2=\"{LEFT}\" y2=\"{}\" stroke=\"#aab2bf\"/>",
        y(0.0),
        LEFT + WIDTH,
        y(0.0),
        y(0.0)
    );
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"14\" text-anchor=\"end\">{highest:.1} s</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text><text x=\"{LEFT}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        LEFT - 6.0,
        LEFT - 6.0,
        y(0.0) + 4.0,
        y(0.0) + 22.0,
        escape(
            points
                .first()
                .map(|point| point.at.as_str())
                .unwrap_or_default()
        ),
        LEFT + WIDTH,
        y(0.0) + 22.0,
        escape(
            points
                .last()
                .map(|point| point.at.as_str())
                .unwrap_or_default()
        ),
    );
    for (index, entity) in entities.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let line: Vec<String> = points
            .iter()
            .zip(&instants)
            .filter_map(|(point, instant)| {
                let seconds = point.lag_seconds.get(*entity)?;
                Some(format!("{:.1},{:.1}", x(*instant), y(*seconds)))
            })
            .collect();
        let _ = writeln!(
            svg,
            "<polyline data-entity=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
            escape(entity),
            line.join(" ")
        );
        let legend_y = 20.0 + index as f64 * 18.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"3\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            LEFT + WIDTH + 16.0,
            legend_y - 4.0,
            LEFT + WIDTH + 34.0,
            legend_y,
            escape(entity)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A horizontal bar chart as inline SVG (a bar per item, its figure beside it).
pub(super) fn bars(id: &str, items: &[(String, u64)], colour: &str) -> String {
    const ROW: usize = 22;
    const LABEL: usize = 170;
    const WIDTH: usize = 420;
    let largest = items
        .iter()
        .map(|(_, value)| *value)
        .max()
        .unwrap_or(0)
        .max(1);
    let height = ROW * items.len() + 4;
    let mut svg = format!(
        "<svg id=\"{id}\" role=\"img\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\">\n",
        LABEL + WIDTH + 110,
        LABEL + WIDTH + 110
    );
    for (index, (label, value)) in items.iter().enumerate() {
        let y = index * ROW;
        let length = ((*value as f64 / largest as f64) * WIDTH as f64).round() as usize;
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{LABEL}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            LABEL - 8,
            y + 15,
            escape(label),
            y + 4,
            length.max(1),
            ROW - 6,
            LABEL + length.max(1) + 6,
            y + 15,
            grouped(*value)
        );
    }
    svg.push_str("</svg>\n");
    svg
}
