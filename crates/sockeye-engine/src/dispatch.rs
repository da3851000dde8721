//! Routes one Engine.IO request: verifies it in the reference server's order
//! (transport, session id, method, upgrade, `allowRequest`, protocol version) and hands
//! it to the polling or websocket transport.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body::Body;

use crate::body::BoxError;
use crate::engine::Engine;
use crate::request::percent_decode;
use crate::response::{self, EngineResponse};
use crate::stats::{Stats, STATS};
use crate::websocket::{self, Mode};
use crate::{cors, polling, HttpErrorCode, ProtocolVersion, RequestInfo, Transport};

/// The query parameters the protocol defines.
struct Query {
    eio: Option<ProtocolVersion>,
    transport: Option<Transport>,
    sid: Option<String>,
    /// `b64`: the client cannot take binary (any non-empty value, as in the reference).
    b64: bool,
    /// `j`: JSONP polling, which this server does not implement.
    jsonp: bool,
}

impl Query {
    /// One pass over the query string; a value is percent-decoded only when it holds
    /// an escape. The first occurrence of a parameter counts, as in `query_param`.
    fn parse(query: &str) -> Self {
        let (mut eio, mut transport, mut sid, mut b64, mut jsonp) = (None, None, None, None, None);
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match &*percent_decode(key) {
                "EIO" => &mut eio,
                "transport" => &mut transport,
                "sid" => &mut sid,
                "b64" => &mut b64,
                "j" => &mut jsonp,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        Query {
            eio: eio.and_then(|v| ProtocolVersion::from_query(&percent_decode(v))),
            transport: transport.and_then(|v| Transport::parse(&percent_decode(v))),
            sid: sid.map(|v| percent_decode(v).into_owned()),
            b64: b64.is_some_and(|v| !v.is_empty()),
            jsonp: jsonp.is_some(),
        }
    }
}

fn refuse(code: HttpErrorCode, message: Option<&str>) -> EngineResponse {
    tracing::debug!(
        code = code as u8,
        reason = code.message(),
        "engine.io request refused"
    );
    response::error(code, message)
}

/// Answers a request under the engine's path, CORS headers included when configured.
pub(crate) async fn handle<B>(engine: Arc<Engine>, request: Request<B>) -> EngineResponse
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let Some(cors) = engine.config.cors.clone() else {
        return route(&engine, request).await;
    };
    let request_headers = request.headers().clone();
    if request.method() == Method::OPTIONS {
        let mut res = response::status(StatusCode::NO_CONTENT);
        res.headers_mut()
            .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(0));
        cors::apply_preflight(&cors, &request_headers, res.headers_mut());
        return res;
    }
    let mut res = route(&engine, request).await;
    if res.status() != StatusCode::SWITCHING_PROTOCOLS {
        cors::apply(&cors, &request_headers, res.headers_mut());
    }
    res
}

async fn route<B>(engine: &Arc<Engine>, mut request: Request<B>) -> EngineResponse
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let query = Query::parse(request.uri().query().unwrap_or(""));
    let Some(transport) = query
        .transport
        .filter(|t| engine.config.transports.contains(t))
    else {
        return refuse(HttpErrorCode::UnknownTransport, None);
    };
    let upgrade = websocket::is_upgrade_request(&request);

    if let Some(sid) = query.sid.as_deref() {
        let Some(socket) = engine.get(sid) else {
            return refuse(HttpErrorCode::UnknownSid, None);
        };
        // Also refuses polling requests once the session moved to websocket; the
        // session itself carries on.
        if !upgrade && socket.transport() != transport {
            return refuse(HttpErrorCode::BadRequest, None);
        }
        if query.eio != Some(socket.protocol()) {
            return refuse(HttpErrorCode::BadRequest, None);
        }
        if upgrade {
            if transport != Transport::Websocket {
                return refuse(HttpErrorCode::BadRequest, None);
            }
            return websocket::accept(engine, &mut request, Mode::Upgrade { socket }, query.b64);
        }
        return match (transport, request.method()) {
            (Transport::Polling, &Method::GET) => polling::poll(socket).await,
            (Transport::Polling, &Method::POST) => polling::post(socket, request).await,
            (Transport::Polling, _) => response::status(StatusCode::INTERNAL_SERVER_ERROR),
            (Transport::Websocket, _) => refuse(HttpErrorCode::BadRequest, None),
        };
    }

    if request.method() != Method::GET {
        return refuse(HttpErrorCode::BadHandshakeMethod, None);
    }
    if transport == Transport::Websocket && !upgrade {
        return refuse(HttpErrorCode::BadRequest, None);
    }
    if query.jsonp {
        return refuse(HttpErrorCode::BadRequest, None);
    }
    let info = RequestInfo::from_request(&request);
    let peer = info.remote_addr.map(|a| a.ip());
    if let Err(refusal) = engine.admission.check(peer, engine.count(), Instant::now()) {
        tracing::debug!(?refusal, ?peer, "handshake refused");
        Stats::add(&STATS.handshakes_refused, 1);
        return response::admission_refused(refusal);
    }
    if let Some(allow) = &engine.config.allow_request {
        if let Err(message) = allow(&info) {
            return refuse(HttpErrorCode::Forbidden, Some(&message));
        }
    }
    let protocol = match query.eio {
        Some(ProtocolVersion::V3) if !engine.config.allow_eio3 => None,
        other => other,
    };
    let Some(protocol) = protocol else {
        return refuse(HttpErrorCode::UnsupportedProtocolVersion, None);
    };
    match transport {
        Transport::Polling => polling::handshake(engine, info, protocol, query.b64),
        Transport::Websocket => websocket::accept(
            engine,
            &mut request,
            Mode::Handshake {
                request: Box::new(info),
                protocol,
            },
            query.b64,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_in_one_pass() {
        let q = Query::parse("EIO=4&transport=polling&t=Pq1&sid=a%2Bb&b64=1&EIO=3");
        assert_eq!(q.eio, Some(ProtocolVersion::V4));
        assert_eq!(q.transport, Some(Transport::Polling));
        assert_eq!(q.sid.as_deref(), Some("a+b"));
        assert!(q.b64);
        assert!(!q.jsonp);
        let q = Query::parse("%45IO=3&transport=web%73ocket&b64=&j=0");
        assert_eq!(q.eio, Some(ProtocolVersion::V3));
        assert_eq!(q.transport, Some(Transport::Websocket));
        assert_eq!(q.sid, None);
        assert!(!q.b64);
        assert!(q.jsonp);
        let q = Query::parse("");
        assert_eq!(
            (q.eio, q.transport, q.b64, q.jsonp),
            (None, None, false, false)
        );
    }
}
