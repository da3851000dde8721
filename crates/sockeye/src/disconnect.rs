//! Why a socket left its namespace.

use sockeye_engine::CloseReason;

/// The reason passed to disconnect handlers; `as_str` gives the reference server's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The connection was closed by the client (or the network).
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The client stopped answering the heartbeat.
    PingTimeout,
    /// The client sent a packet that could not be decoded.
    ParseError,
    /// The underlying connection was closed by the server.
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
    /// Another socket of the same connection was disconnected with `close = true`.
    ForcedServerClose,
    /// The client left the namespace (`socket.disconnect()` on the client).
    ClientNamespaceDisconnect,
    /// The server disconnected the socket (`socket.disconnect()` on the server).
    ServerNamespaceDisconnect,
    /// The client did not read fast enough and its outgoing queue filled up.
    SlowClient,
}

impl DisconnectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::SlowClient => "slow client",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(r: CloseReason) -> Self {
        match r {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
            CloseReason::ServerShuttingDown => DisconnectReason::ServerShuttingDown,
            CloseReason::SlowClient => DisconnectReason::SlowClient,
        }
    }
}
