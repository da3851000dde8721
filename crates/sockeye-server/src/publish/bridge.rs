//! The single-channel Redis bridge: backends `PUBLISH` small JSON messages on one
//! channel (`bridge_channel`) and the gateway emits them to its sockets.
//!
//! The bridge has its own subscriber connection (a subscribed Redis connection can
//! do nothing else). It outlives Redis outages: when the connection drops it
//! reconnects with a capped backoff and subscribes again. Messages published while
//! it is away are lost, as with any Redis Pub/Sub subscriber.

mod backoff;
mod message;

use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};

use self::backoff::Backoff;
use crate::gateway::Gateway;
use crate::publish::publish;

/// First reconnection delay.
const RETRY_FLOOR: Duration = Duration::from_millis(100);
/// Longest reconnection delay: Redis coming back is noticed within this.
const RETRY_CAP: Duration = Duration::from_secs(5);
/// How long connecting and subscribing may take: an unreachable host that drops
/// packets would otherwise hold the bridge for the OS's TCP timeout (minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle subscription is checked with a PING: a connection that died
/// without a FIN (a crashed host, a dropped NAT entry) is otherwise never noticed.
const PING_EVERY: Duration = Duration::from_secs(30);
/// How long a PING may take before the connection counts as dead.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the bridge when `bridge_channel` is set and Redis is configured. Must be
/// called inside the Tokio runtime.
pub fn spawn(gateway: &Gateway) {
    let Some(channel) = gateway.config.bridge_channel.clone() else {
        return;
    };
    let Some(redis) = gateway.redis.as_ref() else {
        tracing::warn!(
            %channel,
            "bridge_channel is set but no Redis is configured; the bridge is off"
        );
        return;
    };
    let client = redis.client.clone();
    let gateway = gateway.clone();
    tokio::spawn(async move { run(gateway, client, channel).await });
}

/// Subscribes, relays, and starts over whenever the subscription is lost. Never
/// returns: the task ends with the runtime.
async fn run(gateway: Gateway, client: redis::Client, channel: String) {
    let mut backoff = Backoff::new(RETRY_FLOOR, RETRY_CAP);
    let mut failures: u32 = 0;
    loop {
        let attempt = tokio::time::timeout(CONNECT_TIMEOUT, subscribe(&client, &channel)).await;
        let attempt = attempt.unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "no answer within the connect timeout",
            )))
        });
        match attempt {
            Ok((sink, stream)) => {
                tracing::info!(%channel, "bridge subscribed to its Redis channel");
                backoff.reset();
                failures = 0;
                let why = relay(&gateway, &channel, sink, stream).await;
                gateway.metrics.redis_error();
                tracing::warn!(%channel, reason = %why, "bridge lost its Redis subscription; reconnecting");
            }
            Err(error) => {
                gateway.metrics.redis_error();
                failures = failures.saturating_add(1);
                // The first failure of an outage is a warning; the retries that
                // follow would flood the log at that level.
                if failures == 1 {
                    tracing::warn!(%channel, %error, "bridge cannot subscribe to Redis; retrying");
                } else {
                    tracing::debug!(%channel, %error, attempt = failures, "bridge still cannot subscribe to Redis");
                }
            }
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// A fresh subscriber connection, subscribed to `channel`.
async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<(PubSubSink, PubSubStream)> {
    let (mut sink, stream) = client.get_async_pubsub().await?.split();
    sink.subscribe(channel).await?;
    Ok((sink, stream))
}

/// Emits every message of the subscription until the connection is lost; returns
/// why it was.
async fn relay(
    gateway: &Gateway,
    channel: &str,
    mut sink: PubSubSink,
    mut stream: PubSubStream,
) -> String {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(msg) => deliver(gateway, channel, msg.get_payload_bytes()),
                None => return "the connection was closed".into(),
            },
            _ = ping.tick() => {
                match tokio::time::timeout(PING_TIMEOUT, sink.ping::<String>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return format!("PING failed: {error}"),
                    Err(_) => return format!("no answer to PING within {PING_TIMEOUT:?}"),
                }
            }
        }
    }
}

/// Emits one message; a bad one is logged and skipped.
fn deliver(gateway: &Gateway, channel: &str, payload: &[u8]) {
    gateway.metrics.bridge_message();
    let publication = match message::parse(payload, gateway.config.engine.max_payload) {
        Ok(publication) => publication,
        Err(error) => {
            tracing::warn!(
                %channel,
                %error,
                bytes = payload.len(),
                start = %message::preview(payload),
                "bridge skipped a malformed message"
            );
            return;
        }
    };
    let event = publication.event.clone();
    match publish(&gateway.io, &gateway.config.bridge_namespace, publication) {
        Ok(delivered) => tracing::debug!(
            %channel,
            %event,
            namespace = %delivered.namespace,
            recipients = delivered.recipients,
            "bridge emitted an event"
        ),
        Err(error) => tracing::warn!(%channel, %error, "bridge skipped a message"),
    }
}
