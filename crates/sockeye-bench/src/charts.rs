//! PNG bar charts of a run (plotters, bitmap backend). Text needs a TrueType font:
//! Debian's fonts-dejavu-core (`apt-get install fonts-dejavu-core`).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use crate::peer::PeerKind;
use crate::run::{PeerResults, Results};
use crate::scenario::connect::ConnectVia;

const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// One bar chart: a bar per server.
struct Panel {
    title: String,
    unit: &'static str,
    values: Vec<(PeerKind, Option<f64>)>,
}

fn color(kind: PeerKind) -> RGBColor {
    match kind {
        PeerKind::Sockeye => RGBColor(230, 120, 30),
        PeerKind::Socketioxide => RGBColor(60, 110, 200),
        PeerKind::Node => RGBColor(70, 160, 80),
    }
}

fn label(kind: PeerKind) -> &'static str {
    match kind {
        PeerKind::Sockeye => "Sockeye",
        PeerKind::Socketioxide => "socketioxide",
        PeerKind::Node => "Node",
    }
}

/// Registers the font once. Err tells how to install it.
fn load_font() -> Result<(), String> {
    static FONT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    FONT.get_or_init(|| {
        let bytes = FONT_PATHS
            .iter()
            .find_map(|p| std::fs::read(p).ok())
            .ok_or_else(|| {
                "no DejaVu Sans font found: install it with `apt-get install fonts-dejavu-core`"
                    .to_string()
            })?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| "the DejaVu Sans font could not be read".to_string())
    })
    .clone()
}

/// Draws `panels` in a grid of `cols` columns into `path`.
fn draw(path: &Path, title: &str, cols: usize, panels: &[Panel]) -> Result<(), String> {
    if panels.is_empty() {
        return Ok(());
    }
    let rows = panels.len().div_ceil(cols);
    let size = (380 * cols as u32, 300 * rows as u32 + 40);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| fail(&e))?;
    let areas = root.split_evenly((rows, cols));
    for (area, panel) in areas.iter().zip(panels) {
        let n = panel.values.len() as i32;
        let max = panel
            .values
            .iter()
            .filter_map(|(_, v)| *v)
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.2;
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(78)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..max)
            .map_err(|e| fail(&e))?;
        let names: Vec<&str> = panel.values.iter().map(|(k, _)| label(*k)).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(panel.unit)
            .y_label_formatter(&|v| {
                if max >= 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            })
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).copied().unwrap_or("").into(),
                _ => String::new(),
            })
            .draw()
            .map_err(|e| fail(&e))?;
        chart
            .draw_series(
                panel
                    .values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (kind, v))| {
                        let v = (*v)?;
                        let i = i as i32;
                        let mut bar = Rectangle::new(
                            [
                                (SegmentValue::Exact(i), 0.0),
                                (SegmentValue::Exact(i + 1), v),
                            ],
                            color(*kind).filled(),
                        );
                        bar.set_margin(0, 0, 10, 10);
                        Some(bar)
                    }),
            )
            .map_err(|e| fail(&e))?;
        chart
            .draw_series(panel.values.iter().enumerate().filter_map(|(i, (_, v))| {
                let v = (*v)?;
                let text = if v >= 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                };
                Some(Text::new(
                    text,
                    (SegmentValue::CenterOf(i as i32), v + max * 0.02),
                    TextStyle::from(("sans-serif", 13).into_font())
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                ))
            }))
            .map_err(|e| fail(&e))?;
    }
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

fn values(
    results: &Results,
    f: impl Fn(&PeerResults) -> Option<f64>,
) -> Vec<(PeerKind, Option<f64>)> {
    results
        .peers
        .iter()
        .map(|p| (p.kind, f(p).filter(|v| v.is_finite())))
        .collect()
}

/// Writes idle.png, fanout.png, cluster.png, echo.png and connect.png into `dir`.
pub fn write_all(results: &Results, dir: &Path) -> Result<(), String> {
    load_font()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let s = &results.settings;

    let mut sizes: Vec<usize> = results
        .peers
        .iter()
        .flat_map(|p| p.idle.iter().map(|r| r.clients))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let idle: Vec<Panel> = sizes
        .iter()
        .map(|&n| Panel {
            title: format!("{n} idle clients"),
            unit: "KiB per client (lower is better)",
            values: values(results, |p| {
                p.idle
                    .iter()
                    .find(|r| r.clients == n)
                    .map(|r| r.kib_per_client)
            }),
        })
        .filter(|p| p.values.iter().any(|(_, v)| v.is_some()))
        .collect();
    draw(
        &dir.join("idle.png"),
        "Idle memory per websocket client",
        3,
        &idle,
    )?;

    let mut fanout = Vec::new();
    for &n in &s.fanout_subscribers {
        let find = move |p: &PeerResults| p.fanout.iter().find(|r| r.subscribers == n).cloned();
        fanout.push(Panel {
            title: format!("{n} subscribers: CPU per delivery"),
            unit: "server CPU µs (lower is better)",
            values: values(results, |p| {
                find(p).map(|r| r.saturation_cpu_us_per_delivery)
            }),
        });
        fanout.push(Panel {
            title: format!("{n} subscribers: saturation"),
            unit: "delivered msgs/s (higher is better)",
            values: values(results, |p| {
                find(p).map(|r| r.saturation_deliveries_per_sec)
            }),
        });
        fanout.push(Panel {
            title: format!("{n} subscribers: p99 at fixed rate"),
            unit: "latency µs (lower is better)",
            values: values(results, |p| find(p).map(|r| r.fixed_latency.p99_us as f64)),
        });
    }
    fanout.retain(|p| p.values.iter().any(|(_, v)| v.is_some()));
    draw(
        &dir.join("fanout.png"),
        "Fan-out: one publisher, one room",
        3,
        &fanout,
    )?;

    let mut cluster = Vec::new();
    for &n in &s.cluster_subscribers {
        let find = move |p: &PeerResults| p.cluster.iter().find(|r| r.subscribers == n).cloned();
        cluster.push(Panel {
            title: format!("{n} subscribers: nodes' CPU per delivery"),
            unit: "CPU µs (lower is better)",
            values: values(results, |p| {
                find(p).map(|r| r.saturation_cpu_us_per_delivery)
            }),
        });
        cluster.push(Panel {
            title: format!("{n} subscribers: saturation"),
            unit: "delivered msgs/s (higher is better)",
            values: values(results, |p| {
                find(p).map(|r| r.saturation_deliveries_per_sec)
            }),
        });
        cluster.push(Panel {
            title: format!("{n} subscribers: p99 at fixed rate"),
            unit: "latency µs (lower is better)",
            values: values(results, |p| find(p).map(|r| r.fixed_latency.p99_us as f64)),
        });
    }
    // Only the servers measured in the cluster scenario.
    for panel in &mut cluster {
        panel.values.retain(|(_, v)| v.is_some());
    }
    cluster.retain(|p| !p.values.is_empty());
    draw(
        &dir.join("cluster.png"),
        "Cluster: two nodes over Redis",
        3,
        &cluster,
    )?;

    let mut echo = vec![
        Panel {
            title: "CPU per ack".into(),
            unit: "server CPU µs (lower is better)",
            values: values(results, |p| p.echo.as_ref().map(|r| r.cpu_us_per_ack)),
        },
        Panel {
            title: "acks per second".into(),
            unit: "acks/s (higher is better)",
            values: values(results, |p| p.echo.as_ref().map(|r| r.acks_per_sec)),
        },
        Panel {
            title: "p99 latency".into(),
            unit: "µs (lower is better)",
            values: values(results, |p| {
                p.echo.as_ref().map(|r| r.latency.p99_us as f64)
            }),
        },
    ];
    echo.retain(|p| p.values.iter().any(|(_, v)| v.is_some()));
    draw(
        &dir.join("echo.png"),
        &format!("Echo: {} clients, emit with ack", s.echo_clients),
        3,
        &echo,
    )?;

    let mut connect = Vec::new();
    for via in [ConnectVia::WebSocket, ConnectVia::PollingUpgrade] {
        let find = move |p: &PeerResults| p.connect.iter().find(|r| r.via == via).cloned();
        connect.push(Panel {
            title: format!("{}: CPU per connection", via.label()),
            unit: "server CPU µs (lower is better)",
            values: values(results, |p| find(p).map(|r| r.cpu_us_per_connection)),
        });
        connect.push(Panel {
            title: format!("{}: rate", via.label()),
            unit: "connections/s (higher is better)",
            values: values(results, |p| find(p).map(|r| r.connections_per_sec)),
        });
    }
    connect.retain(|p| p.values.iter().any(|(_, v)| v.is_some()));
    draw(&dir.join("connect.png"), "New connections", 2, &connect)?;
    Ok(())
}
