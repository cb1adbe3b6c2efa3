//! The playground: GraphiQL built from pinned npm packages (`playground/` at the top of the
//! repository, `npm ci && npm run build` there) into `playground/app.js` and `playground/app.css`
//! beside this file, embedded in the binary. The page loads nothing but those two files and talks
//! to nothing but this gateway, and its Content-Security-Policy says so to the browser.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// A built file, served under a name carrying its content hash so it can be cached for good.
struct Asset {
    file: String,
    content_type: &'static str,
    body: &'static [u8],
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: &'static [u8]) -> Self {
        let digest = Sha256::digest(body);
        let hash = data_encoding::HEXLOWER.encode(&digest[..8]);
        Self {
            file: format!("{stem}.{hash}.{extension}"),
            content_type,
            body,
        }
    }

    fn path(&self) -> String {
        format!("/playground/{}", self.file)
    }
}

struct Playground {
    page: String,
    assets: [Asset; 2],
}

static PLAYGROUND: LazyLock<Playground> = LazyLock::new(|| {
    let js = Asset::new(
        "app",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("playground/app.js"),
    );
    let css = Asset::new(
        "app",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("playground/app.css"),
    );
    let page = include_str!("graphiql.html")
        .replace("{{app.js}}", &js.path())
        .replace("{{app.css}}", &css.path());
    Playground {
        page,
        assets: [js, css],
    }
});

/// Every directive, and why:
/// - `default-src 'self'`: anything not named below comes from the gateway or not at all.
/// - `script-src 'self'`: the bundle only; the page has no inline script and the bundle no `eval`.
/// - `style-src 'self' 'unsafe-inline'`: the stylesheet, plus what GraphiQL styles inline: its
///   dialogs and menus insert a `<style>` element at run time (scroll locking while open) and
///   CodeMirror's search and jump-to-line boxes carry `style` attributes. Styles run no code, and
///   with every other directive at `'self'` they cannot send anything elsewhere.
/// - `img-src 'self' data:` and `font-src 'self' data:`: GraphiQL's fonts and a few images are
///   inlined in the stylesheet as `data:` URLs.
/// - `connect-src`: the GraphQL endpoint over HTTP (`'self'`) and over WebSocket on the same host
///   (`'self'` covers `ws:`/`wss:` only in newer browsers, so the host is named as well).
/// - `frame-ancestors 'none'`: no other page may frame the one where tokens are pasted.
/// - `base-uri 'none'`, `form-action 'none'`, `object-src 'none'`: nothing may move where
///   relative URLs point, submit a form or load a plugin.
fn content_security_policy(host: Option<&str>) -> String {
    let connect = match host.filter(|host| is_plain_host(host)) {
        Some(host) => format!("'self' ws://{host} wss://{host}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self' data:; connect-src {connect}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"
    )
}

/// A `Host` header that can stand in a source expression as it is: a name or an IPv4 address and
/// an optional port. Anything else (it comes from the client) is left out of the policy.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':')
}

/// GraphiQL with an editable `Authorization` header that also authenticates subscriptions.
pub async fn page(headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let csp = HeaderValue::from_str(&content_security_policy(host))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, csp),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            // Revalidated each time, so a new binary's asset names are picked up at once.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        PLAYGROUND.page.as_str(),
    )
        .into_response()
}

/// `/playground/{file}`: the bundle and the stylesheet under their hashed names; 404 otherwise.
pub async fn asset(Path(file): Path<String>) -> Response {
    let nosniff = (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    match PLAYGROUND.assets.iter().find(|asset| asset.file == file) {
        Some(asset) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                ),
                nosniff,
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            asset.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, [nosniff]).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_the_gateway() {
        let csp = content_security_policy(Some("127.0.0.1:8080"));
        for directive in [
            "default-src 'self'",
            "script-src 'self';",
            "connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert!(!csp.contains("http"), "{csp}");
    }

    #[test]
    fn a_host_that_could_add_a_directive_is_left_out() {
        for host in ["evil.example; script-src *", "a b", "x,y", "", "[::1]:80"] {
            let csp = content_security_policy(Some(host));
            assert!(csp.contains("connect-src 'self';"), "{host}: {csp}");
            assert!(!csp.contains("evil"), "{csp}");
        }
    }

    #[test]
    fn the_page_names_the_hashed_assets_and_nothing_remote() {
        let playground = &*PLAYGROUND;
        for asset in &playground.assets {
            assert!(playground.page.contains(&asset.path()), "{}", asset.file);
        }
        assert!(!playground.page.contains("{{"));
        assert!(!playground.page.contains("https://") && !playground.page.contains("<style"));
        assert!(!playground.page.contains("<script>"));
    }

    #[tokio::test]
    async fn the_page_carries_the_policy_and_assets_their_types() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("localhost:8080"));
        let page = page(headers).await;
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        assert_eq!(page.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

        let js = asset(Path(PLAYGROUND.assets[0].file.clone())).await;
        assert_eq!(js.status(), StatusCode::OK);
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let missing = asset(Path("app.js".to_owned())).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
