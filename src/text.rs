//! Text the request path writes for every request (ids in hex, IP addresses, counts,
//! latencies), written without `core::fmt`: its machinery costs hundreds of instructions a
//! value, and a proxied request writes a dozen (callgrind, `benches/load/callgrind.sh`). Each
//! function writes exactly what the `Display`, `Debug`, `LowerHex` or `chrono` formatting it
//! replaces writes; the tests compare them.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::HeaderValue;

/// Writes `bytes` as lowercase hex into `out`, which holds exactly two digits a byte (a
/// number's big-endian bytes give what `format!("{n:032x}")` gives).
pub(crate) fn write_lower_hex(out: &mut [u8], bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    assert_eq!(out.len(), 2 * bytes.len(), "two hex digits a byte");
    for (digits, &b) in out.chunks_exact_mut(2).zip(bytes) {
        digits[0] = HEX[usize::from(b >> 4)];
        digits[1] = HEX[usize::from(b & 0xf)];
    }
}

/// `text`, visible ASCII written on the request path (hex digits, dashes), as a header value
/// held in one allocation that its clones share. `HeaderValue::from_bytes` would copy it into a
/// buffer that the first clone (the upstream's copy, the client's) allocates again to share.
pub(crate) fn shared_header_value<const N: usize>(text: [u8; N]) -> HeaderValue {
    HeaderValue::from_maybe_shared(Bytes::from_owner(text)).expect("visible ASCII")
}

/// Appends `n` in decimal, as `Display` writes it (two digits at a time, by `itoa`).
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Appends `ip` as `Display` writes it (IPv4, most peers, without `fmt`).
pub(crate) fn push_ip(out: &mut String, ip: IpAddr) {
    let IpAddr::V4(v4) = ip else {
        out.push_str(&ip.to_string());
        return;
    };
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_decimal(out, u64::from(octet));
    }
}

/// Appends `addr` as `Display` writes it.
pub(crate) fn push_socket_addr(out: &mut String, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => {
            push_ip(out, IpAddr::V4(*v4.ip()));
            out.push(':');
            push_decimal(out, u64::from(v4.port()));
        }
        SocketAddr::V6(_) => out.push_str(&addr.to_string()),
    }
}

/// `d` in milliseconds at microsecond resolution, as the access line reports durations.
pub(crate) fn millis(d: std::time::Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// Appends [`millis`]`(d)` as `{:?}` writes it (`0.0`, `1.5`, `1234.567`): the integer part,
/// then the thousandths without trailing zeros, or `.0`. Exact because a whole number of
/// microseconds over 1000 has at most three decimals, fewer than an `f64`'s shortest form needs.
pub(crate) fn push_millis(out: &mut String, d: std::time::Duration) {
    let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    push_decimal(out, micros / 1000);
    out.push('.');
    let fraction = micros % 1000;
    if fraction == 0 {
        out.push('0');
        return;
    }
    let digits = [100, 10, 1].map(|unit| b'0' + (fraction / unit % 10) as u8);
    let digits = std::str::from_utf8(&digits).expect("ASCII digits");
    out.push_str(digits.trim_end_matches('0'));
}

/// `ip` as `Display` writes it.
pub(crate) fn ip_text(ip: IpAddr) -> String {
    let mut text = String::with_capacity(15);
    push_ip(&mut text, ip);
    text
}

/// Appends `at` as `chrono`'s `to_rfc3339_opts(SecondsFormat::Micros, true)` writes it
/// (`2026-12-07T07:12:33.123456Z`, UTC). The part up to the seconds is formatted once per
/// second per thread and reused: chrono's formatter is the costliest part of an access line.
pub(crate) fn push_utc_micros(out: &mut String, at: std::time::SystemTime) {
    use std::cell::RefCell;
    thread_local! {
        /// The unix second last formatted, and its text up to and including the '.'.
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since_epoch = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let second = since_epoch.as_secs();
    SECOND.with_borrow_mut(|(formatted, text)| {
        if *formatted != second {
            let whole = chrono::DateTime::<chrono::Utc>::from_timestamp(second as i64, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            text.clear();
            text.push_str(whole.trim_end_matches('Z'));
            text.push('.');
            *formatted = second;
        }
        out.push_str(text);
    });
    let micros = since_epoch.subsec_micros();
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps_are_what_chrono_writes() {
        use std::time::{Duration, UNIX_EPOCH};
        for (secs, nanos) in [
            (0, 0),
            (1_796_627_553, 123_456_789),
            (1_796_627_553, 999_999_999),
            (1_796_627_554, 1_000),
            (1_796_627_554, 999),
            (4_102_444_800, 500_000),
        ] {
            let at = UNIX_EPOCH + Duration::new(secs, nanos);
            let mut out = String::from("t=");
            push_utc_micros(&mut out, at);
            let expected = chrono::DateTime::<chrono::Utc>::from(at)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            assert_eq!(out, format!("t={expected}"), "{secs}.{nanos:09}");
        }
    }

    #[test]
    fn milliseconds_are_what_debug_writes_for_the_float() {
        use std::time::Duration;
        for micros in [
            0,
            1,
            9,
            10,
            100,
            999,
            1_000,
            1_001,
            1_010,
            1_500,
            12_345,
            1_234_567,
            86_400_000_000,
        ] {
            let d = Duration::from_micros(micros) + Duration::from_nanos(999);
            let mut out = String::from("ms=");
            push_millis(&mut out, d);
            assert_eq!(out, format!("ms={:?}", millis(d)), "{micros} µs");
        }
    }

    #[test]
    fn hex_is_what_the_formatter_writes() {
        for value in [
            0,
            1,
            0xabc,
            u128::from(u64::MAX),
            u128::MAX,
            0x0123_4567_89ab_cdef << 64,
        ] {
            let mut out = [0; 32];
            write_lower_hex(&mut out, &value.to_be_bytes());
            assert_eq!(out, format!("{value:032x}").as_bytes());
            let low = value as u64;
            write_lower_hex(&mut out[..16], &low.to_be_bytes());
            assert_eq!(out[..16], *format!("{low:016x}").as_bytes());
        }
    }

    #[test]
    fn shared_header_values_hold_the_text_in_every_clone() {
        let value = shared_header_value(*b"00-0af7651916cd43dd-01");
        let copy = value.clone();
        drop(value);
        assert_eq!(copy, "00-0af7651916cd43dd-01");
    }

    #[test]
    fn decimals_are_what_display_writes() {
        for n in [0, 7, 10, 99, 100, 65_535, 1_000_000, u64::MAX] {
            let mut out = String::from("x=");
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x={n}"));
        }
    }

    #[test]
    fn addresses_are_what_display_writes() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.0.0.255",
            "127.0.0.1",
            "192.168.100.9",
            "255.255.255.255",
            "99.100.101.10",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(ip), ip.to_string());
            for port in [0, 80, 8080, 65_535] {
                let addr = SocketAddr::new(ip, port);
                let mut out = String::new();
                push_socket_addr(&mut out, addr);
                assert_eq!(out, addr.to_string());
            }
        }
    }
}
