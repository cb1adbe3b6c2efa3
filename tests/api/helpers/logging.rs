use std::io::IsTerminal;
use std::sync::Once;
use tracing_subscriber::EnvFilter;

/// Whether the test run asks for the server's logs: `TEST_LOG` set and not empty.
pub fn wanted() -> bool {
    std::env::var("TEST_LOG").is_ok_and(|v| !v.is_empty())
}

/// With `TEST_LOG` set, installs (once per test binary) a subscriber that writes what the
/// in-process servers log to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init() {
    static INSTALLED: Once = Once::new();
    if !wanted() {
        return;
    }
    INSTALLED.call_once(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init();
    });
}
