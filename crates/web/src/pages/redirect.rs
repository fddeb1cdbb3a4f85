//! Where a page may send people back to (`/login?next=`, `/lang/{tag}?back=`): only a
//! path on this site. Browsers read `//host`, `/\host` and `/<tab>/host` as another
//! site, and a control character cannot go into a `Location` header at all, so anything
//! but a plain same-origin path falls back to the start page.

/// Where a refused target sends people instead.
pub(crate) const FALLBACK: &str = "/";

/// `target` when it is a same-origin absolute path, else [`FALLBACK`].
///
/// Accepted: `/` alone, or `/` followed by a path character (RFC 3986 `pchar`), then
/// only URL characters (no space, backslash, control or non-ASCII character). The same
/// holds after percent-decoding, so encoded forms (`/%09/evil`, `/%5Cevil`, `/%2F/evil`)
/// are refused too.
pub(crate) fn safe_back(target: &str) -> &str {
    if is_local_path(target) {
        target
    } else {
        FALLBACK
    }
}

fn is_local_path(target: &str) -> bool {
    let bytes = target.as_bytes();
    if bytes.first() != Some(&b'/') || !bytes.iter().all(|b| is_url_char(*b)) {
        return false;
    }
    if bytes.get(1).is_some_and(|b| !is_pchar(*b)) {
        return false;
    }
    // Decoded again and again until nothing changes: whatever a browser or a proxy
    // decodes must still be a plain local path.
    let mut current = bytes.to_vec();
    for _ in 0..4 {
        let Some(decoded) = percent_decode(&current) else {
            return false;
        };
        if decoded
            .iter()
            .any(|b| *b < 0x20 || *b == 0x7f || *b == b'\\')
            || decoded.starts_with(b"//")
        {
            return false;
        }
        if decoded == current {
            return true;
        }
        current = decoded;
    }
    false
}

/// RFC 3986 `pchar` (an unreserved character, `%`, a sub-delimiter, `:` or `@`).
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:@".contains(&b)
}

/// Characters a path with its query and fragment may hold.
fn is_url_char(b: u8) -> bool {
    is_pchar(b) || b"/?#".contains(&b)
}

/// `%XX` sequences decoded; `None` when one is malformed.
fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        for ok in [
            "/",
            "/login",
            "/o/alpha/admin",
            "/o/alpha/till?q=Jos%C3%A9&limit=5",
            "/o/alpha/admin/settings#mail",
            "/o/alpha/till/c/3f2a?amount=12.50",
            "/~user/a:b@c",
        ] {
            assert_eq!(safe_back(ok), ok, "{ok:?}");
        }
    }

    #[test]
    fn other_sites_and_unsafe_characters_fall_back_to_the_start_page() {
        for bad in [
            "",
            "login",
            "https://evil.example",
            "http:/evil.example",
            "javascript:alert(1)",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/%0d%0aSet-Cookie:x=1",
            "/ok\r\nSet-Cookie: x=1",
            "/ok\nLocation: //evil",
            "/\x7f/evil.example",
            "/%7F/evil.example",
            "/%00",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%5c%5cevil.example",
            "/%252F/evil.example",
            "/%25252F%25252Fevil.example",
            "/%",
            "/%zz",
            "/ space",
            "/caf\u{e9}",
            "/?next=x",
            "/<script>",
        ] {
            assert_eq!(safe_back(bad), FALLBACK, "{bad:?}");
        }
    }
}
