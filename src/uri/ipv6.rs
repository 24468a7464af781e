//! Validation of the text between `[` and `]` in a netloc, as Python 3.11's
//! `urllib.parse.urlsplit` does it (`_check_bracketed_host`, added in
//! 3.11.4). `h/util/uri.py` calls `urlsplit`, so a URI whose bracketed host
//! fails this check makes h's `normalize` raise.
//!
//! The text is accepted when it is an "IPvFuture" literal (`v<hex>.<any>`)
//! or an IPv6 address (optionally with a `%zone` suffix) that Python's
//! `ipaddress` module accepts. An IPv4 address in brackets is rejected.

/// Whether Python would accept `host` as a bracketed host.
pub(crate) fn is_valid_bracketed_host(host: &str) -> bool {
    match host.strip_prefix('v') {
        Some(rest) => is_ipvfuture_tail(rest),
        None => is_ipv6_with_scope(host),
    }
}

/// Matches what follows the `v` in `\Av[a-fA-F0-9]+\..+\Z`.
fn is_ipvfuture_tail(rest: &str) -> bool {
    let hex_len = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
    if hex_len == 0 {
        return false;
    }
    match rest[hex_len..].strip_prefix('.') {
        // `.` in a Python regex does not match a newline.
        Some(tail) => !tail.is_empty() && !tail.contains('\n'),
        None => false,
    }
}

/// Python `ipaddress.IPv6Address(host)` succeeds.
fn is_ipv6_with_scope(host: &str) -> bool {
    let addr = match host.split_once('%') {
        None => host,
        Some((addr, zone)) => {
            if zone.is_empty() || zone.contains('%') {
                return false;
            }
            addr
        }
    };
    is_ipv6(addr)
}

/// The number of 16-bit groups in an IPv6 address.
const HEXTETS: usize = 8;

/// Mirrors the structure checks of `IPv6Address._ip_int_from_string`.
fn is_ipv6(addr: &str) -> bool {
    if addr.is_empty() {
        return false;
    }
    let mut parts: Vec<&str> = addr.split(':').collect();
    if parts.len() < 3 {
        return false;
    }
    // A dotted-quad suffix stands for the last two groups; once checked it
    // can be replaced by two placeholder groups that are always valid.
    if parts.last().is_some_and(|last| last.contains('.')) {
        if !parts.pop().is_some_and(is_ipv4) {
            return false;
        }
        parts.push("0");
        parts.push("0");
    }
    if parts.len() > HEXTETS + 1 {
        return false;
    }
    let n = parts.len();
    let mut skip_index = None;
    for (i, part) in parts.iter().enumerate().take(n - 1).skip(1) {
        if part.is_empty() {
            if skip_index.is_some() {
                return false;
            }
            skip_index = Some(i);
        }
    }
    let first_empty = parts.first().is_some_and(|p| p.is_empty());
    let last_empty = parts.last().is_some_and(|p| p.is_empty());
    let (hi, lo) = match skip_index {
        Some(skip) => {
            let mut hi = skip;
            let mut lo = n - skip - 1;
            if first_empty {
                hi -= 1;
                if hi != 0 {
                    return false;
                }
            }
            if last_empty {
                lo -= 1;
                if lo != 0 {
                    return false;
                }
            }
            if hi + lo >= HEXTETS {
                return false;
            }
            (hi, lo)
        }
        None => {
            if n != HEXTETS || first_empty || last_empty {
                return false;
            }
            (n, 0)
        }
    };
    parts[..hi].iter().all(|p| is_hextet(p)) && parts[n - lo..].iter().all(|p| is_hextet(p))
}

/// `_parse_hextet`: one to four ASCII hex digits.
fn is_hextet(part: &str) -> bool {
    !part.is_empty() && part.len() <= 4 && part.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `IPv4Address(text)` succeeds: four decimal octets, no leading zeros.
fn is_ipv4(text: &str) -> bool {
    let octets: Vec<&str> = text.split('.').collect();
    octets.len() == 4 && octets.iter().all(|o| is_octet(o))
}

/// `_parse_octet`: `0`–`255`, ASCII digits, no leading zero.
fn is_octet(octet: &str) -> bool {
    if octet.is_empty() || octet.len() > 3 || !octet.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if octet != "0" && octet.starts_with('0') {
        return false;
    }
    octet.parse::<u16>().is_ok_and(|v| v <= 255)
}
