//! The `Origin` allow-list, checked at the Engine.IO handshake.

use sockeye::RequestInfo;

use crate::config::Config;

/// The handshake hook refusing origins that are not allowed (`None`: any origin).
pub fn allow_request(
    _config: &Config,
) -> Option<impl Fn(&RequestInfo) -> Result<(), String> + Send + Sync + 'static> {
    None::<fn(&RequestInfo) -> Result<(), String>>
}
