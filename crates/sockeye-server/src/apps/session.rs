//! The authenticated user's display name, when an auth mode is on.

use sockeye::Socket;

/// The name the auth bridge put in the socket's data (the session's user object), if
/// any. With auth on, the apps use it instead of asking for a nickname, so users
/// cannot pose as someone else.
pub fn user_name(socket: &Socket) -> Option<String> {
    let data = socket.data();
    ["name", "username", "nickname"]
        .iter()
        .filter_map(|key| data.get(key).and_then(|v| v.as_str()))
        .map(crate::apps::validate::sanitize_display_name)
        .find(|name| !name.is_empty())
}
