//! Prometheus metrics of the gateway (`GET /metrics`, text exposition format 0.0.4).
//!
//! Three sources, all cheap to keep: the process-wide traffic counters of the
//! libraries (`sockeye_engine::stats`, `sockeye::stats`, bumped with one relaxed
//! atomic add on the hot paths), the gateway's own counters in [`Metrics`] (bumped by
//! the other modules), and gauges computed only when Prometheus scrapes (namespaces,
//! rooms, sockets), so that nothing is maintained between scrapes.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::gateway::Gateway;

/// Gateway-level counters. Shared through `Gateway::metrics`; every method is one
/// relaxed atomic add, so call them freely.
#[derive(Debug, Default)]
pub struct Metrics {
    redis_errors: AtomicU64,
    publish_requests: AtomicU64,
    publish_rejected: AtomicU64,
    bridge_messages: AtomicU64,
}

impl Metrics {
    /// A Redis command failed or timed out (any module: auth lookups, the bridge,
    /// the adapter, the health check).
    pub fn redis_error(&self) {
        self.redis_errors.fetch_add(1, Relaxed);
    }

    /// The HTTP publish API accepted a call.
    pub fn publish_call(&self) {
        self.publish_requests.fetch_add(1, Relaxed);
    }

    /// The HTTP publish API refused a call (bad key, bad body).
    pub fn publish_rejected(&self) {
        self.publish_rejected.fetch_add(1, Relaxed);
    }

    /// A message arrived on the Redis bridge channel.
    pub fn bridge_message(&self) {
        self.bridge_messages.fetch_add(1, Relaxed);
    }

    pub fn redis_errors(&self) -> u64 {
        self.redis_errors.load(Relaxed)
    }

    pub fn publish_calls(&self) -> u64 {
        self.publish_requests.load(Relaxed)
    }
}

/// `GET /metrics`.
pub fn routes(gateway: &Gateway) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(gateway.clone())
}

async fn metrics(State(gateway): State<Gateway>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&gateway),
    )
}

/// The exposition text for the gateway's current state.
pub fn render(gateway: &Gateway) -> String {
    let mut out = Exposition::default();
    let engine = sockeye_engine::stats();
    let sio = sockeye::stats();
    let io = &gateway.io;

    out.gauge(
        "sockeye_connections",
        "Client connections (Engine.IO sessions) open on this node.",
        io.connection_count() as u64,
    );
    out.counter(
        "sockeye_connections_opened_total",
        "Client connections opened since start.",
        engine.sessions_opened,
    );
    out.counter(
        "sockeye_handshakes_refused_total",
        "Handshakes refused by --max-connections or --handshakes-per-minute.",
        engine.handshakes_refused,
    );

    let namespaces = io.namespaces();
    out.gauge(
        "sockeye_namespaces",
        "Socket.IO namespaces that exist on this node.",
        namespaces.len() as u64,
    );
    let mut sockets = Vec::with_capacity(namespaces.len());
    let mut rooms = Vec::with_capacity(namespaces.len());
    for name in &namespaces {
        let Some(ns) = io.of(name) else { continue };
        sockets.push((name, ns.sockets().len() as u64));
        // Every socket sits in a room named after its id; those are not "rooms" to
        // an operator, so only the ones the application created are counted.
        let named = ns
            .adapter()
            .rooms()
            .iter()
            .filter(|room| ns.socket(room).is_none())
            .count();
        rooms.push((name, named as u64));
    }
    out.labelled(
        "sockeye_sockets",
        "gauge",
        "Sockets connected to each namespace on this node.",
        "namespace",
        &sockets,
    );
    out.labelled(
        "sockeye_rooms",
        "gauge",
        "Rooms with at least one local socket, per namespace (sockets' own rooms excluded).",
        "namespace",
        &rooms,
    );

    out.counter(
        "sockeye_packets_received_total",
        "Engine.IO messages received from clients.",
        engine.messages_in,
    );
    out.counter(
        "sockeye_packets_sent_total",
        "Engine.IO messages queued to clients (a broadcast counts once per recipient).",
        engine.messages_out,
    );
    out.counter(
        "sockeye_bytes_received_total",
        "Payload bytes received from clients.",
        engine.bytes_in,
    );
    out.counter(
        "sockeye_bytes_sent_total",
        "Payload bytes queued to clients.",
        engine.bytes_out,
    );
    out.counter(
        "sockeye_broadcasts_total",
        "Broadcasts delivered on this node.",
        sio.broadcasts,
    );
    out.counter(
        "sockeye_broadcast_deliveries_total",
        "Packets queued to local sockets by broadcasts (the fan-out).",
        sio.broadcast_deliveries,
    );
    out.counter(
        "sockeye_volatile_dropped_total",
        "Volatile packets dropped because the client could not take them.",
        engine.volatile_dropped,
    );
    out.counter(
        "sockeye_slow_client_disconnects_total",
        "Clients disconnected because their outgoing queue filled up (--max-queue).",
        engine.slow_client_closes,
    );

    let m = &gateway.metrics;
    out.counter(
        "sockeye_redis_errors_total",
        "Redis commands that failed or timed out.",
        m.redis_errors(),
    );
    out.counter(
        "sockeye_publish_requests_total",
        "HTTP publish API calls accepted.",
        m.publish_calls(),
    );
    out.counter(
        "sockeye_publish_rejected_total",
        "HTTP publish API calls refused (bad key or body).",
        m.publish_rejected.load(Relaxed),
    );
    out.counter(
        "sockeye_bridge_messages_total",
        "Messages received on the Redis bridge channel.",
        m.bridge_messages.load(Relaxed),
    );
    out.text
}

/// Writes metric families in the Prometheus text format.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn gauge(&mut self, name: &str, help: &str, value: u64) {
        self.header(name, "gauge", help);
        let _ = writeln!(self.text, "{name} {value}");
    }

    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.header(name, "counter", help);
        let _ = writeln!(self.text, "{name} {value}");
    }

    fn labelled(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        label: &str,
        values: &[(&String, u64)],
    ) {
        self.header(name, kind, help);
        for (label_value, value) in values {
            let _ = writeln!(
                self.text,
                "{name}{{{label}=\"{}\"}} {value}",
                escape_label(label_value)
            );
        }
    }
}

/// Label values may hold anything a client sent (dynamic namespace names): backslash,
/// quote and newline must be escaped or the whole exposition becomes unparsable.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_label;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("/a\"b\\c\nd"), "/a\\\"b\\\\c\\nd");
    }
}
