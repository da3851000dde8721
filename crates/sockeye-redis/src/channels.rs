//! Names of the Redis channels of one namespace, exactly as the Node.js adapter
//! builds them, so both implementations meet on the same channels.

use sockeye::adapter::BroadcastOptions;

/// The channels of one namespace, seen from one node.
#[derive(Clone, Debug)]
pub(crate) struct Channels {
    /// `<key>#<nsp>#`: broadcasts, followed by `<room>#` when they target one room.
    broadcast: String,
    /// `<key>-request#<nsp>#`: requests to every node.
    pub(crate) request: String,
    /// `<key>-response#<nsp>#`: where Node.js nodes answer by default.
    pub(crate) response: String,
    /// `<key>-response#<nsp>#<uid>#`: answers meant for this node only.
    pub(crate) own_response: String,
}

impl Channels {
    pub(crate) fn new(key: &str, nsp: &str, uid: &str) -> Self {
        let response = format!("{key}-response#{nsp}#");
        Channels {
            broadcast: format!("{key}#{nsp}#"),
            request: format!("{key}-request#{nsp}#"),
            own_response: format!("{response}{uid}#"),
            response,
        }
    }

    /// The pattern that catches every broadcast of the namespace, with or without a room.
    pub(crate) fn broadcast_pattern(&self) -> String {
        format!("{}*", self.broadcast)
    }

    /// Where a broadcast is published: a broadcast to exactly one room goes to that
    /// room's channel, which lets receivers without that room skip it undecoded.
    pub(crate) fn broadcast_to(&self, opts: &BroadcastOptions) -> String {
        match opts.rooms.as_slice() {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }

    /// The channel that reaches only the node `uid` (Node.js `publishOnSpecificResponseChannel`).
    pub(crate) fn response_for(&self, uid: &str) -> String {
        format!("{}{uid}#", self.response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye::adapter::Room;

    #[test]
    fn names_match_the_node_adapter() {
        let c = Channels::new("socket.io", "/", "abc123");
        assert_eq!(c.broadcast_pattern(), "socket.io#/#*");
        assert_eq!(c.request, "socket.io-request#/#");
        assert_eq!(c.response, "socket.io-response#/#");
        assert_eq!(c.own_response, "socket.io-response#/#abc123#");
        let one = BroadcastOptions {
            rooms: vec![Room::from("r1")],
            ..Default::default()
        };
        assert_eq!(c.broadcast_to(&one), "socket.io#/#r1#");
        assert_eq!(c.broadcast_to(&BroadcastOptions::default()), "socket.io#/#");
    }
}
