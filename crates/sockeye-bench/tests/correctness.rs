//! The load generator's own checks, on a small scale, against Sockeye's bench-server
//! example run in-process (its source is included below, so this is the same server
//! the benchmarks start). These assert the correctness counters, never timings.

#[path = "../../sockeye/examples/bench-server.rs"]
#[allow(dead_code)]
mod bench_server;

use std::time::Duration;

use sockeye_bench::checks::CheckCounts;
use sockeye_bench::scenario::connect::{connect, ConnectVia};
use sockeye_bench::scenario::echo::echo;
use sockeye_bench::scenario::fanout::{fanout, FanoutConfig};
use sockeye_bench::scenario::idle::idle;
use sockeye_bench::Target;

/// Starts the bench server on its own runtime thread; its port.
fn start_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            bench_server::run(listener).await.expect("bench server");
        });
    });
    port
}

fn target(port: u16) -> Target {
    Target { port, pid: None }
}

#[tokio::test]
async fn fan_out_to_ten_subscribers_delivers_every_message_once_in_order() {
    let port = start_server();
    let config = FanoutConfig {
        subscribers: 10,
        saturation: Duration::from_millis(500),
        fixed: Duration::from_millis(500),
        fixed_deliveries_per_sec: 2_000,
        window: 16,
        drain: Duration::from_secs(60),
    };
    let result = fanout(target(port), &config).await.expect("fan-out runs");
    assert_eq!(
        result.checks,
        CheckCounts::default(),
        "{}",
        result.checks.describe()
    );
    assert!(result.published > 0, "nothing was published");
    assert_eq!(result.delivered, result.published * 10);
    assert!(
        result.fixed_latency.count > 0,
        "no latency sample at the fixed rate"
    );
}

#[tokio::test]
async fn echo_of_five_clients_gets_every_ack_with_its_data() {
    let port = start_server();
    let result = echo(target(port), 5, Duration::from_millis(500))
        .await
        .expect("echo runs");
    assert_eq!(
        result.checks,
        CheckCounts::default(),
        "{}",
        result.checks.describe()
    );
    assert!(result.acks > 0, "no ack came back");
    assert_eq!(result.latency.count as u64, result.acks);
}

#[tokio::test]
async fn connections_open_over_websocket_and_by_polling_upgrade() {
    let port = start_server();
    for via in [ConnectVia::WebSocket, ConnectVia::PollingUpgrade] {
        let result = connect(target(port), via, 2, Duration::from_millis(300)).await;
        assert_eq!(
            result.checks,
            CheckCounts::default(),
            "{via:?}: {}",
            result.checks.describe()
        );
        assert!(result.connections > 0, "{via:?}: no connection opened");
    }
}

#[tokio::test]
async fn idle_clients_stay_connected_and_receive_nothing() {
    let port = start_server();
    let results = idle(target(port), &[5, 20], Duration::from_millis(200))
        .await
        .expect("idle runs");
    assert_eq!(results.len(), 2);
    for r in results {
        assert_eq!(r.checks, CheckCounts::default(), "{}", r.checks.describe());
    }
}

/// The checks are not blind: a rogue client publishing sequence number 0 again and
/// again into the benchmark's room makes the subscribers see duplicates.
#[tokio::test]
async fn duplicated_messages_are_counted() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let port = start_server();
    let rogue = tokio::spawn(async move {
        let mut ws = sockeye_bench::client::connect_websocket(port, 99, false)
            .await
            .expect("rogue client connects");
        for _ in 0..40 {
            let frame = sockeye_bench::packet::publish("fanout-3", 0, 5);
            ws.send(Message::text(frame))
                .await
                .expect("rogue publishes");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    });
    let config = FanoutConfig {
        subscribers: 3,
        saturation: Duration::from_millis(500),
        fixed: Duration::from_millis(500),
        fixed_deliveries_per_sec: 300,
        window: 16,
        drain: Duration::from_secs(5),
    };
    let result = fanout(target(port), &config).await.expect("fan-out runs");
    rogue.await.expect("rogue task");
    assert!(result.checks.duplicated > 0, "{:?}", result.checks);
}

/// A port where no server listens is an error, not an empty clean run.
#[tokio::test]
async fn no_server_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let config = FanoutConfig {
        subscribers: 2,
        saturation: Duration::from_millis(100),
        fixed: Duration::from_millis(100),
        fixed_deliveries_per_sec: 100,
        window: 4,
        drain: Duration::from_secs(1),
    };
    assert!(fanout(target(port), &config).await.is_err());
}
