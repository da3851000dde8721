//! The session state machine, driven directly (no HTTP), with paused time for timers.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::*;
use crate::{EngineConfig, EngineHandler, Incoming, Message};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Open,
    Message(Incoming),
    Close(CloseReason),
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Recorder {
    fn events(&self) -> Vec<Event> {
        self.0.lock().clone()
    }
    fn closes(&self) -> Vec<CloseReason> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Close(r) => Some(r),
                _ => None,
            })
            .collect()
    }
}

impl EngineHandler for Recorder {
    fn on_open(&self, _socket: &EngineSocket) {
        self.0.lock().push(Event::Open);
    }
    fn on_message(&self, _socket: &EngineSocket, message: Incoming) {
        self.0.lock().push(Event::Message(message));
    }
    fn on_close(&self, _socket: &EngineSocket, reason: CloseReason) {
        self.0.lock().push(Event::Close(reason));
    }
}

const INTERVAL: Duration = Duration::from_millis(300);
const TIMEOUT: Duration = Duration::from_millis(200);

fn setup(max_queue: usize) -> (Arc<Engine>, Arc<Recorder>) {
    let config = EngineConfig::builder()
        .ping_interval(INTERVAL)
        .ping_timeout(TIMEOUT)
        .max_queue(max_queue)
        .build();
    let recorder = Arc::new(Recorder::default());
    let handler: Arc<dyn EngineHandler> = recorder.clone();
    (Arc::new(Engine::new(config, handler)), recorder)
}

fn open(engine: &Arc<Engine>, protocol: ProtocolVersion, transport: Transport) -> EngineSocket {
    let request = RequestInfo::from_request(&http::Request::new(()));
    engine.open_session(request, protocol, transport, false)
}

fn poll_now(socket: &EngineSocket) -> Option<(Vec<Item>, Drain)> {
    let mut out = Vec::new();
    socket.take_poll(&mut out).map(|d| (out, d))
}

fn texts(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .flat_map(|i| match i {
            Item::Control(c) => vec![String::from_utf8_lossy(&c.encoded()).into_owned()],
            Item::Out(o) => o
                .messages()
                .iter()
                .map(|m| match m {
                    Message::Text(b) => String::from_utf8_lossy(b).into_owned(),
                    Message::Binary(_) => "<binary>".into(),
                })
                .collect(),
        })
        .collect()
}

#[test]
fn close_is_decided_once() {
    let (engine, rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Polling);
    assert_eq!(engine.count(), 1);
    assert!(socket.is_open());
    socket.close_with(CloseReason::PingTimeout);
    socket.close_with(CloseReason::TransportError);
    socket.close();
    assert!(!socket.is_open());
    assert_eq!(rec.closes(), vec![CloseReason::PingTimeout]);
    assert_eq!(engine.count(), 0);
    assert_eq!(socket.send(Message::text("x")), Err(SendError::Closed));
    assert!(!socket.send_volatile(Message::text("x")));
    // a pending GET hears of the abrupt close
    let (items, drain) = poll_now(&socket).expect("the poll is answered");
    assert_eq!(texts(&items), vec!["1"]);
    assert_eq!(drain, Drain::Closed);
}

#[test]
fn full_queue_closes_as_slow_client() {
    let (engine, rec) = setup(2);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Websocket);
    assert_eq!(socket.send(Message::text("a")), Ok(()));
    assert_eq!(socket.send(Message::text("b")), Ok(()));
    assert_eq!(socket.send(Message::text("c")), Err(SendError::Full));
    assert_eq!(rec.closes(), vec![CloseReason::SlowClient]);
    assert!(!socket.is_open());
    assert_eq!(engine.count(), 0);
    let mut out = std::collections::VecDeque::new();
    assert_eq!(socket.take_ws(&mut out), Drain::Closed);
    assert!(out.is_empty(), "an abrupt close drops the queue");
}

#[test]
fn volatile_messages_are_dropped_not_fatal() {
    let (engine, rec) = setup(1);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Polling);
    assert!(socket.send_volatile(Message::text("a")));
    assert!(!socket.send_volatile(Message::text("b")), "queue full");
    assert!(socket.is_open());
    let (items, _) = poll_now(&socket).expect("the poll is answered");
    assert_eq!(texts(&items), vec!["4a"]);
    assert!(socket.begin_upgrade());
    assert!(!socket.send_volatile(Message::text("c")), "upgrading");
    assert_eq!(socket.send(Message::text("d")), Ok(()), "send still queues");
    assert!(rec.closes().is_empty());
}

#[test]
fn upgrade_state_machine() {
    let (engine, _rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Polling);
    assert!(socket.begin_upgrade());
    assert!(!socket.begin_upgrade(), "a second websocket is refused");
    // nothing queued, probe not answered yet: the GET keeps waiting
    assert!(poll_now(&socket).is_none());
    socket.probe_answered();
    let (items, _) = poll_now(&socket).expect("the poll is answered");
    assert_eq!(texts(&items), vec!["6"], "the GET is released with a noop");
    // queued before the switch, not yet sent: goes out over the websocket
    socket.send(Message::text("late")).ok();
    assert!(socket.complete_upgrade());
    assert_eq!(socket.transport(), Transport::Websocket);
    let (items, _) = poll_now(&socket).expect("the poll is answered");
    assert_eq!(
        texts(&items),
        vec!["6"],
        "a stray GET does not steal the queue"
    );
    let mut out = std::collections::VecDeque::new();
    assert_eq!(socket.take_ws(&mut out), Drain::Open);
    assert_eq!(texts(out.make_contiguous()), vec!["4late"]);
    assert!(!socket.begin_upgrade(), "already upgraded");
    assert!(!socket.complete_upgrade());
}

#[test]
fn failed_upgrade_stays_on_polling() {
    let (engine, _rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V3, Transport::Polling);
    assert!(socket.begin_upgrade());
    socket.probe_answered();
    socket.cancel_upgrade();
    assert_eq!(socket.transport(), Transport::Polling);
    assert!(!socket.complete_upgrade());
    assert!(
        poll_now(&socket).is_none(),
        "no more noops once the upgrade failed"
    );
    assert!(socket.begin_upgrade(), "the client may try again");
}

#[test]
fn graceful_close_flushes_then_closes() {
    let (engine, rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Polling);
    socket.send(Message::text("a")).ok();
    socket.send(Message::binary(vec![1u8])).ok();
    socket.close();
    assert_eq!(
        rec.closes(),
        vec![CloseReason::ForcedClose],
        "decided before the flush"
    );
    assert!(!socket.is_open());
    assert_eq!(engine.count(), 1, "kept until the close is delivered");
    let (items, drain) = poll_now(&socket).expect("the poll is answered");
    assert_eq!(texts(&items), vec!["4a", "<binary>", "1"]);
    assert_eq!(drain, Drain::ThenClose);
    assert_eq!(engine.count(), 0);
    assert_eq!(rec.closes().len(), 1);
}

#[test]
fn graceful_close_over_websocket() {
    let (engine, _rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Websocket);
    socket.send(Message::text("a")).ok();
    socket.close();
    let mut out = std::collections::VecDeque::new();
    assert_eq!(socket.take_ws(&mut out), Drain::ThenClose);
    assert_eq!(texts(out.make_contiguous()), vec!["4a"]);
    assert_eq!(engine.count(), 0);
}

#[test]
fn inbound_packets() {
    let (engine, rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Websocket);
    socket.on_inbound(Inbound::Message(Incoming::Text(Bytes::from("1"))));
    socket.on_inbound(Inbound::Noop);
    socket.on_inbound(Inbound::Upgrade);
    socket.on_inbound(Inbound::Message(Incoming::Binary(Bytes::from("2"))));
    socket.on_inbound(Inbound::Close);
    socket.on_inbound(Inbound::Message(Incoming::Text(Bytes::from("ignored"))));
    assert_eq!(
        rec.events(),
        vec![
            Event::Message(Incoming::Text(Bytes::from("1"))),
            Event::Message(Incoming::Binary(Bytes::from("2"))),
            Event::Close(CloseReason::TransportClose),
        ]
    );
}

#[test]
fn heartbeat_direction_is_enforced() {
    let (engine, rec) = setup(8);
    let v4 = open(&engine, ProtocolVersion::V4, Transport::Websocket);
    v4.on_inbound(Inbound::Ping { probe: false });
    let v3 = open(&engine, ProtocolVersion::V3, Transport::Websocket);
    v3.on_inbound(Inbound::Pong { probe: false });
    assert_eq!(
        rec.closes(),
        vec![CloseReason::TransportError, CloseReason::TransportError]
    );
}

#[test]
fn v3_ping_is_answered() {
    let (engine, _rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V3, Transport::Polling);
    socket.on_inbound(Inbound::Ping { probe: false });
    let (items, _) = poll_now(&socket).expect("the poll is answered");
    assert_eq!(texts(&items), vec!["3"]);
}

#[test]
fn parse_error_closes() {
    let (engine, rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Polling);
    socket.on_parse_error(&"bad");
    assert_eq!(rec.closes(), vec![CloseReason::ParseError]);
}

#[test]
fn silent_close_releases_the_poll_with_a_noop() {
    let (engine, rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Polling);
    socket.close_silently(CloseReason::TransportError);
    assert_eq!(rec.closes(), vec![CloseReason::TransportError]);
    let (items, drain) = poll_now(&socket).expect("the poll is answered");
    assert_eq!(texts(&items), vec!["6"]);
    assert_eq!(drain, Drain::Closed);
}

#[test]
fn close_all() {
    let (engine, rec) = setup(8);
    let a = open(&engine, ProtocolVersion::V4, Transport::Polling);
    let b = open(&engine, ProtocolVersion::V3, Transport::Websocket);
    engine.close_all(CloseReason::ServerShuttingDown);
    assert!(!a.is_open() && !b.is_open());
    assert_eq!(engine.count(), 0);
    assert_eq!(rec.closes().len(), 2);
}

/// Lets spawned tasks run until they wait again.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn v4_heartbeat_pings_and_times_out_on_time() {
    let (engine, rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Polling);
    tokio::spawn(crate::polling::drive(socket.clone()));
    settle().await;
    tokio::time::advance(INTERVAL - Duration::from_millis(1)).await;
    settle().await;
    assert!(poll_now(&socket).is_none(), "no ping before the interval");
    tokio::time::advance(Duration::from_millis(1)).await;
    settle().await;
    let (items, _) = poll_now(&socket).expect("the poll is answered");
    assert_eq!(texts(&items), vec!["2"], "ping exactly at the interval");
    // no pong
    tokio::time::advance(TIMEOUT - Duration::from_millis(1)).await;
    settle().await;
    assert!(socket.is_open());
    tokio::time::advance(Duration::from_millis(1)).await;
    settle().await;
    assert!(!socket.is_open(), "closed exactly at interval + timeout");
    assert_eq!(rec.closes(), vec![CloseReason::PingTimeout]);
}

#[tokio::test(start_paused = true)]
async fn v4_pong_keeps_the_session() {
    let (engine, rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Polling);
    tokio::spawn(crate::polling::drive(socket.clone()));
    for _ in 0..5 {
        tokio::time::advance(INTERVAL).await;
        settle().await;
        let (items, _) = poll_now(&socket).expect("the poll is answered");
        assert_eq!(texts(&items), vec!["2"]);
        tokio::time::advance(TIMEOUT / 2).await;
        socket.on_inbound(Inbound::Pong { probe: false });
        settle().await;
    }
    assert!(socket.is_open());
    assert!(rec.closes().is_empty());
}

#[tokio::test(start_paused = true)]
async fn v3_heartbeat_waits_for_client_pings() {
    let (engine, rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V3, Transport::Polling);
    tokio::spawn(crate::polling::drive(socket.clone()));
    settle().await;
    tokio::time::advance(INTERVAL).await;
    socket.on_inbound(Inbound::Ping { probe: false });
    settle().await;
    tokio::time::advance(INTERVAL + TIMEOUT - Duration::from_millis(1)).await;
    settle().await;
    assert!(socket.is_open(), "the ping reset the timeout");
    tokio::time::advance(Duration::from_millis(1)).await;
    settle().await;
    assert_eq!(rec.closes(), vec![CloseReason::PingTimeout]);
}

#[tokio::test(start_paused = true)]
async fn graceful_close_gives_up_after_the_grace_period() {
    let (engine, rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Polling);
    tokio::spawn(crate::polling::drive(socket.clone()));
    settle().await;
    socket.send(Message::text("never read")).ok();
    socket.close();
    settle().await;
    assert_eq!(engine.count(), 1);
    tokio::time::advance(TIMEOUT).await;
    settle().await;
    assert_eq!(
        engine.count(),
        0,
        "dropped after ping_timeout without a GET"
    );
    assert_eq!(socket.phase(), Phase::Closed);
    assert_eq!(rec.closes(), vec![CloseReason::ForcedClose]);
}

#[tokio::test(start_paused = true)]
async fn polling_timer_task_ends_after_upgrade() {
    let (engine, _rec) = setup(8);
    let socket = open(&engine, ProtocolVersion::V4, Transport::Polling);
    let task = tokio::spawn(crate::polling::drive(socket.clone()));
    settle().await;
    assert!(socket.begin_upgrade());
    assert!(socket.complete_upgrade());
    settle().await;
    assert!(task.is_finished());
}

#[test]
fn open_packet_in_the_reference_form() {
    let (engine, _) = setup(8);
    let sid = Sid::from("AbCdEfGhIjKlMnOpQrSt");
    let polling = engine.open_packet(&sid, Transport::Polling);
    assert_eq!(
        std::str::from_utf8(&polling).unwrap_or_default(),
        r#"0{"sid":"AbCdEfGhIjKlMnOpQrSt","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#
    );
    let websocket = engine.open_packet(&sid, Transport::Websocket);
    assert_eq!(
        std::str::from_utf8(&websocket).unwrap_or_default(),
        r#"0{"sid":"AbCdEfGhIjKlMnOpQrSt","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#
    );
}
