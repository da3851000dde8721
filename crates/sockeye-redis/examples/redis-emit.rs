//! `redis-emit`: publishes one message into a Socket.IO cluster over Redis with
//! [`sockeye_redis::emitter::Emitter`], the way a backend would, and prints how many
//! nodes received it. Used by the end-to-end tests (e2e/tests/redis-emitter.test.mjs).
//!
//! ```text
//! redis-emit --redis URL [--key socket.io] [--nsp /] [--to ROOM]... [--except ROOM]...
//!            [--volatile] [--compress true|false] ACTION
//!   emit EVENT [ARG]...               ARG is JSON, or hex:0a0b for binary data
//!   join ROOM...   leave ROOM...      the targeted sockets join or leave the rooms
//!   disconnect [--close]              the targeted sockets are disconnected
//!   server-side-emit EVENT [ARG]...   an event for the servers (JSON only)
//! ```

use clap::{Parser, Subcommand};
use sockeye::Value;
use sockeye_redis::emitter::Emitter;

#[derive(Parser)]
struct Args {
    /// Redis URL, such as redis://127.0.0.1:6379/.
    #[arg(long)]
    redis: String,
    /// Channel prefix of the cluster.
    #[arg(long, default_value = "socket.io")]
    key: String,
    /// Namespace.
    #[arg(long, default_value = "/")]
    nsp: String,
    /// Rooms to target (repeat for several).
    #[arg(long)]
    to: Vec<String>,
    /// Rooms to skip (repeat for several).
    #[arg(long)]
    except: Vec<String>,
    #[arg(long)]
    volatile: bool,
    #[arg(long)]
    compress: Option<bool>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    Emit {
        event: String,
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    Join {
        #[arg(allow_hyphen_values = true)]
        rooms: Vec<String>,
    },
    Leave {
        #[arg(allow_hyphen_values = true)]
        rooms: Vec<String>,
    },
    Disconnect {
        #[arg(long)]
        close: bool,
    },
    ServerSideEmit {
        event: String,
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// A command-line argument as an event argument: JSON, or `hex:` followed by bytes.
fn parse_arg(text: &str) -> Result<Value, String> {
    if let Some(hex) = text.strip_prefix("hex:") {
        if hex.len() % 2 != 0 {
            return Err(format!("odd number of hex digits in {text:?}"));
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| format!("bad hex in {text:?}: {e}"))?;
        return Ok(Value::from(bytes));
    }
    serde_json::from_str::<serde_json::Value>(text)
        .map(Value::from)
        .map_err(|e| format!("argument {text:?} is neither JSON nor hex:…: {e}"))
}

fn parse_args(args: &[String]) -> Result<Vec<Value>, String> {
    args.iter().map(|a| parse_arg(a)).collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let client = redis::Client::open(args.redis.as_str())?;
    let emitter = Emitter::connect(client).await?.with_key(args.key);
    let emitter = emitter.of(&args.nsp);
    let mut target = emitter.to(args.to).except(args.except);
    if args.volatile {
        target = target.volatile();
    }
    if let Some(compress) = args.compress {
        target = target.compress(compress);
    }
    let receivers = match args.action {
        Action::Emit { event, args } => target.emit(&event, parse_args(&args)?).await?,
        Action::Join { rooms } => target.sockets_join(rooms).await?,
        Action::Leave { rooms } => target.sockets_leave(rooms).await?,
        Action::Disconnect { close } => target.disconnect_sockets(close).await?,
        Action::ServerSideEmit { event, args } => {
            emitter.server_side_emit(&event, parse_args(&args)?).await?
        }
    };
    println!("{receivers}");
    Ok(())
}
