use super::logging;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// A second gateway, as its own OS process, on the database at `database_url`, with some
/// settings of its own. Answers the process (killed when dropped) and its address,
/// `http://host:port`. Its log goes to the test's stderr with `TEST_LOG` set, else nowhere.
pub async fn spawn_gateway_process(
    database_url: &str,
    settings: &[(&str, &str)],
) -> (Child, String) {
    let log = if logging::wanted() {
        Stdio::inherit()
    } else {
        Stdio::null()
    };
    spawn(database_url, settings, log).await
}

/// The same, with its log (stderr) piped for the test to read from `child.stderr`.
pub async fn spawn_gateway_process_with_piped_log(
    database_url: &str,
    settings: &[(&str, &str)],
) -> (Child, String) {
    spawn(database_url, settings, Stdio::piped()).await
}

async fn spawn(database_url: &str, settings: &[(&str, &str)], stderr: Stdio) -> (Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("serve")
        .envs(settings.iter().copied())
        .env("DATABASE_URL", database_url)
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("APP_ENV", "development")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("gateway binary starts");
    // The gateway prints its address on stdout once it listens.
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix("listening on http://") {
                return rest.split_whitespace().next().map(str::to_owned);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("the second gateway reports its address");
    (child, format!("http://{address}"))
}
