//! Who may talk to the service: the `Host` and `Origin` checks.
//!
//! Why both: any web page the desk's browser opens can make it send a request (or open
//! a WebSocket) to `127.0.0.1`, and the browser says which page asked in `Origin`; so
//! an `Origin` that is neither this service, a loopback page nor one the configuration
//! names is refused. A page on a hostile name that resolves to 127.0.0.1 (DNS
//! rebinding) is "same origin" for the browser, but its requests carry the hostile
//! name in `Host`; so a `Host` that is not a loopback name is refused too.
//!
//! A request without `Origin` is let through: browsers send one on every WebSocket
//! handshake and every cross-site request, so its absence means a program on the desk
//! (a HIS's own process, curl), which could open the socket anyway. `Origin: null`
//! (sandboxed frames, `file:` pages) is refused unless the configuration lists `null`.

use std::net::IpAddr;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` missing or not a loopback name.
    Host(String),
    /// `Origin` not allowed.
    Origin(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Host(h) => write!(
                f,
                "Host {h:?} is not a loopback name (127.0.0.1, localhost, [::1]); \
                 refused against DNS rebinding"
            ),
            Refusal::Origin(o) => write!(
                f,
                "Origin {o:?} is not allowed to use the card service; a desk adds its \
                 system's origin under [serve] allowed_origins in sscard.toml"
            ),
        }
    }
}

/// Whether `host` (a name or address, without port or brackets) is loopback:
/// `localhost`, `*.localhost` (RFC 6761), 127.0.0.0/8, `::1`.
pub fn is_loopback_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if h == "localhost" || h.ends_with(".localhost") {
        return true;
    }
    h.parse::<IpAddr>().is_ok_and(|ip| match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    })
}

/// The host part of an authority (`host[:port]`, `[v6][:port]`); `None` when malformed.
fn host_of(authority: &str) -> Option<&str> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (h, tail) = rest.split_once(']')?;
        return (tail.is_empty() || tail.strip_prefix(':').is_some_and(is_port)).then_some(h);
    }
    match authority.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') => is_port(port).then_some(h),
        Some(_) => None,
        None => Some(authority),
    }
    .filter(|h| !h.is_empty())
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// Checks the `Host` header: present and a loopback name.
///
/// # Errors
/// [`Refusal::Host`] otherwise.
pub fn check_host(host: Option<&str>) -> Result<(), Refusal> {
    let h = host.unwrap_or("");
    match host_of(h) {
        Some(name) if is_loopback_name(name) => Ok(()),
        _ => Err(Refusal::Host(h.to_string())),
    }
}

/// Checks the `Origin` header: absent, a loopback `http`/`https` origin (this
/// service's own page is one), or listed in `allowed` (exact, ASCII case-insensitive,
/// without a trailing `/`).
///
/// # Errors
/// [`Refusal::Origin`] otherwise.
pub fn check_origin(origin: Option<&str>, allowed: &[String]) -> Result<(), Refusal> {
    let Some(o) = origin else { return Ok(()) };
    let norm = o.trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(norm))
    {
        return Ok(());
    }
    let authority = norm
        .strip_prefix("http://")
        .or_else(|| norm.strip_prefix("https://"));
    match authority
        .and_then(|a| (!a.contains(['/', '@', '?', '#'])).then_some(a))
        .and_then(host_of)
    {
        Some(h) if is_loopback_name(h) => Ok(()),
        _ => Err(Refusal::Origin(o.to_string())),
    }
}

/// Checks `Sec-Fetch-Site` on a request without `Origin`: browsers send no `Origin` on
/// a plain GET another site's page makes through an `<img>` or `<script>` tag, but say
/// where it came from in `Sec-Fetch-Site`; only `same-origin` and `none` (typed in the
/// address bar) are let through. Programs send neither header.
///
/// # Errors
/// [`Refusal::Origin`] for such a request from another site.
pub fn check_fetch_site(origin: Option<&str>, site: Option<&str>) -> Result<(), Refusal> {
    match (origin, site) {
        (None, Some(s))
            if !s.eq_ignore_ascii_case("same-origin") && !s.eq_ignore_ascii_case("none") =>
        {
            Err(Refusal::Origin(format!("(none sent; Sec-Fetch-Site: {s})")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in [
            "127.0.0.1:8990",
            "127.0.0.1",
            "localhost:1",
            "LOCALHOST",
            "desk.localhost:80",
            "[::1]:8990",
            "[::1]",
            "127.9.9.9:5",
        ] {
            assert_eq!(check_host(Some(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "evil.example:8990",
            "127.0.0.1.evil.example",
            "10.0.0.1:8990",
            "[::2]:1",
            "localhost:99999999",
            "127.0.0.1:80:80",
            "localhost.evil",
            "0.0.0.0",
        ] {
            assert!(check_host(Some(bad)).is_err(), "{bad}");
        }
        assert!(check_host(None).is_err());
    }

    #[test]
    fn origins() {
        let allowed = vec!["https://his.hospital.example".to_string()];
        for ok in [
            None,
            Some("http://127.0.0.1:8990"),
            Some("http://localhost"),
            Some("https://[::1]:443"),
            Some("https://his.hospital.example"),
            Some("HTTPS://HIS.hospital.example/"),
        ] {
            assert_eq!(check_origin(ok, &allowed), Ok(()), "{ok:?}");
        }
        for bad in [
            "null",
            "https://evil.example",
            "http://127.0.0.1.evil.example",
            "file://",
            "http://127.0.0.1@evil.example",
            "ws://127.0.0.1:8990",
            "https://his.hospital.example.evil",
            "http://[::1]x",
        ] {
            assert!(check_origin(Some(bad), &allowed).is_err(), "{bad}");
        }
        assert_eq!(check_origin(Some("null"), &["null".to_string()]), Ok(()));
    }

    #[test]
    fn fetch_sites() {
        assert_eq!(check_fetch_site(None, None), Ok(()));
        assert_eq!(check_fetch_site(None, Some("same-origin")), Ok(()));
        assert_eq!(check_fetch_site(None, Some("none")), Ok(()));
        assert!(check_fetch_site(None, Some("cross-site")).is_err());
        assert!(check_fetch_site(None, Some("same-site")).is_err());
        // With an Origin, check_origin decides.
        assert_eq!(
            check_fetch_site(Some("http://127.0.0.1"), Some("cross-site")),
            Ok(())
        );
    }
}
