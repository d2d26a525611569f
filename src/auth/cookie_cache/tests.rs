//! Tests for the cookie cache codec. The `BA_*` vectors were minted by Better Auth 1.7.25 itself,
//! so these tests prove compatibility without Node.
//!
//! How the vectors were produced (from the repository root, `npm ci --prefix tests/interop` once):
//!
//! ```sh
//! node tests/interop/cache.mjs mint --secret gatehouse-golden-secret-0123456789abcdef \
//!     --now 1795395501238 --max-age 300 --version 1
//! ```
//!
//! `compact`, `jwt` and `jwe` come from a real `GET /get-session` (database path, in-memory
//! adapter, admin plugin) for the fixed record in `cache.mjs`; the `*DontRemember` ones from
//! Better Auth's `setCookieCache(ctx, session, true)`; `compactChunked` from `/get-session` for
//! the same record with `image = "https://img.example/" + "a" * 5000` (only hashes are kept).
//! The reverse direction (Better Auth accepting values minted here) is checked with
//! `cargo test --lib cookie_cache::tests::print_minted_for_node -- --ignored --nocapture` and
//! `node tests/interop/cache.mjs verify --secret ... --strategy <s> <value>`.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::payload::{json_string, parse_iso, raw_member};
use super::*;
use crate::config::{AdditionalFields, CookieAttributes};
use crate::session::{Session, User};

const SECRET: &str = "gatehouse-golden-secret-0123456789abcdef";
/// `--now`: the `Date.now()` Better Auth saw while minting.
const NOW: Timestamp = Timestamp::from_millis(1_795_395_501_238);
const COOKIE: &str = "better-auth.session_data";

/// `vectors.compact.value`
const BA_COMPACT: &str = concat!(
    "eyJzZXNzaW9uIjp7InNlc3Npb24iOnsiZXhwaXJlc0F0IjoiMjAyNi0xMS0zMFQwMDo1ODoyMS4yMTNaIiwidG9rZW4iOiJr",
    "Z2tnQTI4cEpOV1B5ZjZibDVGTnVqb29YVHRkQVhUNyIsImNyZWF0ZWRBdCI6IjIwMjYtMTEtMjNUMDA6NTg6MjEuMjEzWiIs",
    "InVwZGF0ZWRBdCI6IjIwMjYtMTEtMjNUMDA6NTg6MjEuMjEzWiIsImlwQWRkcmVzcyI6IjIwMy4wLjExMy43IiwidXNlckFn",
    "ZW50IjoicHJvYmUvMS4wIChYMTE7IFwicXVvdGVkXCIpIiwidXNlcklkIjoia25RYkFNZ1p0SDF1TUJwQ0pkNVVneVFWbjV6",
    "dWVMaUsiLCJpbXBlcnNvbmF0ZWRCeSI6bnVsbCwiaWQiOiJONzJabFdFZndWQlFSeWVmOVFYS0V1SHExV3RKWEVUMSJ9LCJ1",
    "c2VyIjp7Im5hbWUiOiJab8OrIFwiWlwiIE8nQnJpZW4gXFwgLyDimIMgXHUwMDAxIDxiPiIsImVtYWlsIjoiem9lQGV4YW1w",
    "bGUuY29tIiwiZW1haWxWZXJpZmllZCI6dHJ1ZSwiaW1hZ2UiOm51bGwsImNyZWF0ZWRBdCI6IjIwMjYtMTEtMjNUMDA6NTg6",
    "MTYuMzIyWiIsInVwZGF0ZWRBdCI6IjIwMjYtMTEtMjNUMDA6NTg6MTYuMzIyWiIsInJvbGUiOiJhZG1pbix1c2VyIiwiYmFu",
    "bmVkIjpmYWxzZSwiYmFuUmVhc29uIjpudWxsLCJiYW5FeHBpcmVzIjpudWxsLCJpZCI6ImtuUWJBTWdadEgxdU1CcENKZDVV",
    "Z3lRVm41enVlTGlLIn0sInVwZGF0ZWRBdCI6MTc5NTM5NTUwMTIzOCwidmVyc2lvbiI6IjEifSwiZXhwaXJlc0F0IjoxNzk1",
    "Mzk1ODAxMjM4LCJzaWduYXR1cmUiOiJkSF9pMG9xMmVXQzVaSlJtRXZ2d2NkVldWTjI0N0gzQ01lRnpDUFFFTUJFIn0",
);

/// `vectors.jwt.value`
const BA_JWT: &str = concat!(
    "eyJhbGciOiJIUzI1NiJ9.eyJzZXNzaW9uIjp7ImV4cGlyZXNBdCI6IjIwMjYtMTEtMzBUMDA6NTg6MjEuMjEzWiIsInRva2V",
    "uIjoia2drZ0EyOHBKTldQeWY2Ymw1Rk51am9vWFR0ZEFYVDciLCJjcmVhdGVkQXQiOiIyMDI2LTExLTIzVDAwOjU4OjIxLjI",
    "xM1oiLCJ1cGRhdGVkQXQiOiIyMDI2LTExLTIzVDAwOjU4OjIxLjIxM1oiLCJpcEFkZHJlc3MiOiIyMDMuMC4xMTMuNyIsInV",
    "zZXJBZ2VudCI6InByb2JlLzEuMCAoWDExOyBcInF1b3RlZFwiKSIsInVzZXJJZCI6ImtuUWJBTWdadEgxdU1CcENKZDVVZ3l",
    "RVm41enVlTGlLIiwiaW1wZXJzb25hdGVkQnkiOm51bGwsImlkIjoiTjcyWmxXRWZ3VkJRUnllZjlRWEtFdUhxMVd0SlhFVDE",
    "ifSwidXNlciI6eyJuYW1lIjoiWm_DqyBcIlpcIiBPJ0JyaWVuIFxcIC8g4piDIFx1MDAwMSA8Yj4iLCJlbWFpbCI6InpvZUB",
    "leGFtcGxlLmNvbSIsImVtYWlsVmVyaWZpZWQiOnRydWUsImltYWdlIjpudWxsLCJjcmVhdGVkQXQiOiIyMDI2LTExLTIzVDA",
    "wOjU4OjE2LjMyMloiLCJ1cGRhdGVkQXQiOiIyMDI2LTExLTIzVDAwOjU4OjE2LjMyMloiLCJyb2xlIjoiYWRtaW4sdXNlciI",
    "sImJhbm5lZCI6ZmFsc2UsImJhblJlYXNvbiI6bnVsbCwiYmFuRXhwaXJlcyI6bnVsbCwiaWQiOiJrblFiQU1nWnRIMXVNQnB",
    "DSmQ1VWd5UVZuNXp1ZUxpSyJ9LCJ1cGRhdGVkQXQiOjE3OTUzOTU1MDEyMzgsInZlcnNpb24iOiIxIiwiaWF0IjoxNzk1Mzk",
    "1NTAxLCJleHAiOjE3OTUzOTU4MDF9.Lc97VZBO_ZFZ45aU02U5mRU5LAi63ZGe0RrkkfZ3-QM",
);

/// `vectors.jwe.value`
const BA_JWE: &str = concat!(
    "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiVlZXLUVRcDRBa25wbV9IOFJwRi1FdDVNdDJEYl81",
    "djZWODhpZldLNnBMMCJ9..2LG3OPC1-ez3slE8EBLNsg.H3AVyi7fujjonfwVrN20GUeBChqUabd5fOlheylTbu5Ht9VuDVV",
    "Syo32QsGa_buiDk7YQw3zlWEKSztD2465L2aQEuJLtJAgQmTzlp4FJVHVtjqwwT4DdZdv8B1s3AXaztD8vbV1YXa_HB_YfYP",
    "KD9-2klaarlC6-e85mZb__IoO2ZLnG28lV4svuGeooz4wnGfpB3Fo3XU-Yf23fC_R6wLTVgMzh3L9ID6UqRog2kLbh4pj6sK",
    "a9tTVimfsf60yPluJUrVVDOC_GQRui_SmFDlmvhCL8mSiQeuxpH9-flUpx9NFRdrgA3XPN7NjAwXKHxImNFCoBrkje-4XRLZ",
    "91nIFQvzPSz13Bvc_qGGiyxiADSe_-K3EM-58fy2OcTZVGO-jOseSUmutK7bfLR47RyvdiNTWTsqiakQ-BbEMhd0O9Vhysk8",
    "kSWlbCUGERErkpJQAPsBdzEZJm6U8GQaYEwvZNY8fubaEbVgsGOVC7WMz8yuj0iLGLcunIONqLwPSBiFWGn6iyoUuMWwvUyR",
    "-1x3zQUubjUjg4Kv9dXfmuiTQoyKzsxyRAeI_NHN7Z29EETfb8W_h1gkpehD89sx9Z3uNbP4XBOfgU3qjl5o9QkA4beyHVUl",
    "5LjomJJ9E-fyi2lsM67o48QlE3GPRCNfnBCftBSkZFeQTkxDi2Dw4ojYLjOWtWiZ-fKzIAixaYRNhbxIE6KD-5uZLOXXwypM",
    "gVykXTBZO0dddvekZ3hJMV8UgoA883kmP3J7SU6rmiN9WQZYAbkqKcJHIM2a7N9zu--BeKMG_HT45fhnxHoUC1wDrZSgmjok",
    "UBudJYmNC1JaHBu7IgsGoVD2q3QfqSJJAoL1uaFOoBJdkAcc_xIH2FJRXs4pEi9GVPjBcp0-5APWDslkhULzE-40WOzj2SG1",
    "cOcOqPEi3nqJ-Sq5Wds-fGk34HUnt-ByNz96yB-A9RUMGnwjh4aHMv8crF1fvcG2yPMzXpQrVfe1Crcv37g6xivJiyKyGigQ",
    "Q8H_xC2GpKNl4xcGlsae2vLKtv7mbS7q3GA.sLBNf6phmvEKexmj8GjG_kRO-dZLgERjoyeMZs5whcY",
);

/// `vectors.compactDontRemember.value`
const BA_COMPACT_DONT_REMEMBER: &str = concat!(
    "eyJzZXNzaW9uIjp7InNlc3Npb24iOnsiaWQiOiJONzJabFdFZndWQlFSeWVmOVFYS0V1SHExV3RKWEVUMSIsInRva2VuIjoi",
    "a2drZ0EyOHBKTldQeWY2Ymw1Rk51am9vWFR0ZEFYVDciLCJ1c2VySWQiOiJrblFiQU1nWnRIMXVNQnBDSmQ1VWd5UVZuNXp1",
    "ZUxpSyIsImV4cGlyZXNBdCI6IjIwMjYtMTEtMzBUMDA6NTg6MjEuMjEzWiIsImNyZWF0ZWRBdCI6IjIwMjYtMTEtMjNUMDA6",
    "NTg6MjEuMjEzWiIsInVwZGF0ZWRBdCI6IjIwMjYtMTEtMjNUMDA6NTg6MjEuMjEzWiIsImlwQWRkcmVzcyI6IjIwMy4wLjEx",
    "My43IiwidXNlckFnZW50IjoicHJvYmUvMS4wIChYMTE7IFwicXVvdGVkXCIpIiwiaW1wZXJzb25hdGVkQnkiOm51bGx9LCJ1",
    "c2VyIjp7ImlkIjoia25RYkFNZ1p0SDF1TUJwQ0pkNVVneVFWbjV6dWVMaUsiLCJuYW1lIjoiWm_DqyBcIlpcIiBPJ0JyaWVu",
    "IFxcIC8g4piDIFx1MDAwMSA8Yj4iLCJlbWFpbCI6InpvZUBleGFtcGxlLmNvbSIsImVtYWlsVmVyaWZpZWQiOnRydWUsImlt",
    "YWdlIjpudWxsLCJjcmVhdGVkQXQiOiIyMDI2LTExLTIzVDAwOjU4OjE2LjMyMloiLCJ1cGRhdGVkQXQiOiIyMDI2LTExLTIz",
    "VDAwOjU4OjE2LjMyMloiLCJyb2xlIjoiYWRtaW4sdXNlciIsImJhbm5lZCI6ZmFsc2UsImJhblJlYXNvbiI6bnVsbCwiYmFu",
    "RXhwaXJlcyI6bnVsbH0sInVwZGF0ZWRBdCI6MTc5NTM5NTUwMTIzOCwidmVyc2lvbiI6IjEifSwiZXhwaXJlc0F0IjoxNzk1",
    "Mzk1NTYxMjM4LCJzaWduYXR1cmUiOiJOZGw1aEIxMmpRMGx1c1JCZ2ZQY292UU9OYjRvYmxKU3BadFl2VUc2V0pFIn0",
);

/// `vectors.jwtDontRemember.value`
const BA_JWT_DONT_REMEMBER: &str = concat!(
    "eyJhbGciOiJIUzI1NiJ9.eyJzZXNzaW9uIjp7ImlkIjoiTjcyWmxXRWZ3VkJRUnllZjlRWEtFdUhxMVd0SlhFVDEiLCJ0b2t",
    "lbiI6Imtna2dBMjhwSk5XUHlmNmJsNUZOdWpvb1hUdGRBWFQ3IiwidXNlcklkIjoia25RYkFNZ1p0SDF1TUJwQ0pkNVVneVF",
    "WbjV6dWVMaUsiLCJleHBpcmVzQXQiOiIyMDI2LTExLTMwVDAwOjU4OjIxLjIxM1oiLCJjcmVhdGVkQXQiOiIyMDI2LTExLTI",
    "zVDAwOjU4OjIxLjIxM1oiLCJ1cGRhdGVkQXQiOiIyMDI2LTExLTIzVDAwOjU4OjIxLjIxM1oiLCJpcEFkZHJlc3MiOiIyMDM",
    "uMC4xMTMuNyIsInVzZXJBZ2VudCI6InByb2JlLzEuMCAoWDExOyBcInF1b3RlZFwiKSIsImltcGVyc29uYXRlZEJ5IjpudWx",
    "sfSwidXNlciI6eyJpZCI6ImtuUWJBTWdadEgxdU1CcENKZDVVZ3lRVm41enVlTGlLIiwibmFtZSI6Ilpvw6sgXCJaXCIgTyd",
    "CcmllbiBcXCAvIOKYgyBcdTAwMDEgPGI-IiwiZW1haWwiOiJ6b2VAZXhhbXBsZS5jb20iLCJlbWFpbFZlcmlmaWVkIjp0cnV",
    "lLCJpbWFnZSI6bnVsbCwiY3JlYXRlZEF0IjoiMjAyNi0xMS0yM1QwMDo1ODoxNi4zMjJaIiwidXBkYXRlZEF0IjoiMjAyNi0",
    "xMS0yM1QwMDo1ODoxNi4zMjJaIiwicm9sZSI6ImFkbWluLHVzZXIiLCJiYW5uZWQiOmZhbHNlLCJiYW5SZWFzb24iOm51bGw",
    "sImJhbkV4cGlyZXMiOm51bGx9LCJ1cGRhdGVkQXQiOjE3OTUzOTU1MDEyMzgsInZlcnNpb24iOiIxIiwiaWF0IjoxNzk1Mzk",
    "1NTAxLCJleHAiOjE3OTUzOTU4MDF9.O5BvEq1tuDd_Dc45B2eUwsfnB7xuYmABr2uuoag5XKI",
);

/// `vectors.jweDontRemember.value`
const BA_JWE_DONT_REMEMBER: &str = concat!(
    "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiVlZXLUVRcDRBa25wbV9IOFJwRi1FdDVNdDJEYl81",
    "djZWODhpZldLNnBMMCJ9..7TXfLy1Yj-2OVvQJ8RhSSw.v5IaejyYRJmY7ibYvQ3O3y09W0NQKKOjZrixHwmHbg9S-Ym4FjU",
    "v36YCYR5dtbwP5Ypu3haOwn4RXpnnJ073ukO-2hKiEB-iBNWZ7Vu7AgvgsN7YM4I7ffD2aOvXY9QT6B-DLOO803OABr31lak",
    "GvRDYSx6PRr9lUjyQWun926Kvm8aP-hZHYPbnmziK8FqopFYC5060y1Ertu-6fCGOCFZtPdjOXhg-NP3SU_IPXBKFXeRbHqb",
    "tmDjGfgbjzDJib0vV3duv_BC6zrZPTh7pgB5VminrAzMn4AwP64EpObfChnf5jiY_1o9A0zbmM39zGQsTDoOm9a9kjwczvdf",
    "Uix6DRXxOTjLWWKt9EjHnM4evz8U5E1j8nODi4UeNXqp8eCH9mVkOcYahCYmfawGmmx8um49OLBnZ0wkC7DieV4tKwJZcf2k",
    "W-2vJzxa30CRwtL1lccBlwOB9D1K9r9heq3TeTmk3Iv6L3KT8cRmq_j4bfV8QuoiCn3gPSAIp7Cv4SxS0Le9OAGmE4SSSf25",
    "48vUjfNpG7ELPWZOZllyHkyaoek9Hk6qWmv2Re3or3IevbWT0PAf9sgw7qJhj-xiyCdRJ0ELJaDZVfY-WjK6b93_0bdJ1p_y",
    "FwD335bvPLPFZreja6tnh77Gf90fYbTnsIng8mruRzem1jATdpUH1AbovOlV7O-4y8Su6ZWENtiF9lU9vsWBKpDS9k1wgmX1",
    "Lh9166EUSkWoIVQuoltO9DuvHYGPeaIPPdmXmYdGIesWx5EYRqVzPLTT3S4IcIxzPtc_ST6OJIPa1FC2mUqyTY8P9TUGocZE",
    "Eco1zSm7iA95rwjgkmKqMsprfxHU2bz7xO6kSptmPHl7r5trOizHuwblAn8yLehXR6tiP3erNjIlQIwDVKrBnOZbLh5BcAG7",
    "rpkAEPLeMUaye9Y11WEqni2rgZbJWRhW2yzW_DPklhsRjIdmLexCYy3jB4yLQbAwjq26fF4ufcU3Sgn6CdTZ2QR6_FMzO0w1",
    "pxgvnCaACnsgBplotG3MW5z4y5A09WarbfQ.xydGBLyHDizEQ7QLaq_DWHJqruc5Vi1RouNj5r4ISn4",
);

/// SHA-256 (hex) of `vectors.compactChunked.value` (7742 characters).
const BA_CHUNKED_VALUE_SHA256: &str =
    "058448db71dcaa6a1d0912d5ba7706c56aec50953b41b8c922cd7b296e928dba";
/// SHA-256 (hex) of each line of `vectors.compactChunked.setCookie`
/// (`better-auth.session_data.0=<3977 chars>; Max-Age=300; Path=/; HttpOnly; SameSite=Lax`, then
/// `.1` with the remaining 3765).
const BA_CHUNKED_SET_COOKIE_SHA256: [&str; 2] = [
    "362d076c194a678e025c178dd7de8fdd135e5056d33a32a82dd7aad6467c6d7e",
    "71e6569125ffba1951ed50b6af664ec127444f8c27d976ff25135bd655594c5f",
];

// ---- helpers -----------------------------------------------------------------------------------

fn config(strategy: CookieCacheStrategy, max_age_secs: u64, version: &str) -> CookieCacheConfig {
    CookieCacheConfig {
        strategy,
        max_age: Duration::from_secs(max_age_secs),
        version: version.to_owned(),
        max_trust: Duration::from_secs(max_age_secs),
    }
}

fn cache(strategy: CookieCacheStrategy) -> CookieCache {
    CookieCache::new(&config(strategy, 300, "1"), SECRET)
}

const ALL: [CookieCacheStrategy; 3] = [
    CookieCacheStrategy::Compact,
    CookieCacheStrategy::Jwt,
    CookieCacheStrategy::Jwe,
];

/// The fixed record of `tests/interop/cache.mjs` (`fixedRecord`).
fn golden_record(image: Option<String>) -> SessionRecord {
    let t_user = Timestamp::from_millis(1_795_395_496_322);
    let t_session = Timestamp::from_millis(1_795_395_501_213);
    SessionRecord {
        session: Session {
            id: "N72ZlWEfwVBQRyef9QXKEuHq1WtJXET1".into(),
            token: "kgkgA28pJNWPyf6bl5FNujooXTtdAXT7".into(),
            user_id: "knQbAMgZtH1uMBpCJd5UgyQVn5zueLiK".into(),
            expires_at: t_session.plus(Duration::from_secs(7 * 86_400)),
            created_at: t_session,
            updated_at: t_session,
            ip_address: Some("203.0.113.7".into()),
            user_agent: Some("probe/1.0 (X11; \"quoted\")".into()),
            impersonated_by: None,
            additional: Vec::new(),
            active_member_role: None,
        },
        user: User {
            id: "knQbAMgZtH1uMBpCJd5UgyQVn5zueLiK".into(),
            name: "Zoë \"Z\" O'Brien \\ / ☃ \u{1} <b>".into(),
            email: "zoe@example.com".into(),
            email_verified: true,
            image,
            created_at: t_user,
            updated_at: t_user,
            role: Some("admin,user".into()),
            banned: Some(false),
            ban_reason: None,
            ban_expires: None,
            extra: Vec::new(),
            additional: Vec::new(),
        },
    }
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn unb64(s: &str) -> String {
    String::from_utf8(URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap()
}

fn secs(ms: Timestamp) -> i64 {
    ms.millis().div_euclid(1000)
}

// ---- golden vectors from Better Auth -----------------------------------------------------------

#[test]
fn accepts_better_auth_minted_values_of_every_strategy() {
    let now_s = secs(NOW);
    let cases = [
        (
            CookieCacheStrategy::Compact,
            BA_COMPACT,
            NOW.millis() + 300_000,
        ),
        (CookieCacheStrategy::Jwt, BA_JWT, (now_s + 300) * 1000),
        (CookieCacheStrategy::Jwe, BA_JWE, (now_s + 300) * 1000),
        // dont_remember: compact 60 s, jwt/jwe still 300 s.
        (
            CookieCacheStrategy::Compact,
            BA_COMPACT_DONT_REMEMBER,
            NOW.millis() + 60_000,
        ),
        (
            CookieCacheStrategy::Jwt,
            BA_JWT_DONT_REMEMBER,
            (now_s + 300) * 1000,
        ),
        (
            CookieCacheStrategy::Jwe,
            BA_JWE_DONT_REMEMBER,
            (now_s + 300) * 1000,
        ),
    ];
    for (strategy, value, expires_at) in cases {
        let decoded = cache(strategy)
            .decode(value, NOW)
            .unwrap_or_else(|e| panic!("{strategy:?} rejected: {e:?}"));
        assert_eq!(decoded.record, golden_record(None), "{strategy:?}");
        assert_eq!(decoded.minted_at, NOW, "{strategy:?}");
        assert_eq!(decoded.expires_at.millis(), expires_at, "{strategy:?}");
        // The last accepted instant, and the first rejected one.
        let last_ok = if strategy == CookieCacheStrategy::Jwt {
            decoded.expires_at.minus(Duration::from_millis(1))
        } else {
            decoded.expires_at
        };
        assert!(
            cache(strategy).decode(value, last_ok).is_ok(),
            "{strategy:?}"
        );
        assert_eq!(
            cache(strategy).decode(value, last_ok.plus(Duration::from_millis(1))),
            Err(CacheRejected::Expired),
            "{strategy:?}"
        );
        // Each strategy only reads its own form.
        for other in ALL.into_iter().filter(|&s| s != strategy) {
            assert!(
                cache(other).decode(value, NOW).is_err(),
                "{other:?} read {strategy:?}"
            );
        }
    }
}

#[test]
fn compact_and_jwt_mints_are_byte_identical_to_better_auth() {
    let record = golden_record(None);
    assert_eq!(
        cache(CookieCacheStrategy::Compact).encode(&record, NOW, false),
        BA_COMPACT
    );
    assert_eq!(
        cache(CookieCacheStrategy::Jwt).encode(&record, NOW, false),
        BA_JWT
    );
}

#[test]
fn jwe_header_and_kid_match_better_auth() {
    let ours = cache(CookieCacheStrategy::Jwe).encode(&golden_record(None), NOW, false);
    let header = |t: &str| unb64(t.split('.').next().unwrap());
    assert_eq!(header(&ours), header(BA_JWE));
    assert_eq!(
        header(BA_JWE),
        format!(
            "{{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\",\"kid\":\"{}\"}}",
            jose::JweKey::derive(SECRET).kid()
        )
    );
}

#[test]
fn jwe_kid_matches_better_auths_thumbprint() {
    // Computed with Better Auth's own helpers (@noble/hashes `hkdf`, jose
    // `calculateJwkThumbprint`) from tests/interop/node_modules.
    for (secret, kid) in [
        (SECRET, "VVW-EQp4Aknpm_H8RpF-Et5Mt2Db_5v6V88ifWK6pL0"),
        (
            "better-auth-secret-12345678901234567890",
            "2gfuK-4nzYOKZS75JQilUpf8F-Z0f4p0ERdZSPpOIHs",
        ),
    ] {
        assert_eq!(jose::JweKey::derive(secret).kid(), kid, "{secret}");
    }
}

#[test]
fn chunked_cookies_are_byte_identical_to_better_auth() {
    let record = golden_record(Some(format!("https://img.example/{}", "a".repeat(5000))));
    let value = cache(CookieCacheStrategy::Compact).encode(&record, NOW, false);
    assert_eq!(value.len(), 7742);
    assert_eq!(sha256_hex(&value), BA_CHUNKED_VALUE_SHA256);
    let headers = set_cookie_headers(
        COOKIE,
        &value,
        Some(300),
        &CookieAttributes::better_auth_defaults(false),
        &[],
    );
    let hashes: Vec<String> = headers.iter().map(|h| sha256_hex(h)).collect();
    assert_eq!(hashes, BA_CHUNKED_SET_COOKIE_SHA256);
    // And it reads back.
    let pairs: Vec<&str> = headers
        .iter()
        .map(|h| h.split(';').next().unwrap())
        .collect();
    let header = pairs.join("; ");
    let joined = read_chunked(&[header.as_str()], COOKIE).unwrap();
    assert_eq!(joined, value);
    let decoded = cache(CookieCacheStrategy::Compact)
        .decode(&joined, NOW)
        .unwrap();
    assert_eq!(decoded.record, record);
}

/// Prints values minted here for `node tests/interop/cache.mjs verify` (Better Auth's own check).

// ---- round trips -------------------------------------------------------------------------------

#[test]
fn round_trips_every_strategy() {
    let mut record = golden_record(Some("https://img.example/a.png".into()));
    record.session.impersonated_by = Some("admin-1".into());
    record.session.user_agent = None;
    record.user.banned = Some(true);
    record.user.ban_reason = Some("spam \u{7f} \u{2028}".into());
    record.user.ban_expires = Some(Timestamp::from_millis(1_800_000_000_123));
    record.user.role = None;
    for strategy in ALL {
        for dont_remember in [false, true] {
            let c = cache(strategy);
            let value = c.encode(&record, NOW, dont_remember);
            let decoded = c.decode(&value, NOW).unwrap();
            assert_eq!(decoded.record, record, "{strategy:?}");
            assert_eq!(decoded.minted_at, NOW);
        }
    }
}

#[test]
fn jwe_mints_differ_each_time_but_decode_the_same() {
    let c = cache(CookieCacheStrategy::Jwe);
    let a = c.encode(&golden_record(None), NOW, false);
    let b = c.encode(&golden_record(None), NOW, false);
    assert_ne!(a, b, "random iv and jti");
    assert_eq!(
        c.decode(&a, NOW).unwrap().record,
        c.decode(&b, NOW).unwrap().record
    );
}

#[test]
fn jwe_claims_carry_a_v4_uuid_jti() {
    let key = jose::JweKey::derive(SECRET);
    let value = cache(CookieCacheStrategy::Jwe).encode(&golden_record(None), NOW, false);
    let (claims, _) = jose::decrypt_jwe(&value, std::slice::from_ref(&key), NOW).unwrap();
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 36);
    assert_eq!(&jti[14..15], "4");
    assert!(matches!(&jti[19..20], "8" | "9" | "a" | "b"), "{jti}");
    assert_eq!(claims["iat"].as_i64(), Some(secs(NOW)));
    assert_eq!(claims["exp"].as_i64(), Some(secs(NOW) + 300));
}

#[test]
fn lifetimes_follow_max_age_and_dont_remember() {
    let record = golden_record(None);
    for strategy in ALL {
        let c = CookieCache::new(&config(strategy, 600, "1"), SECRET);
        assert_eq!(c.cookie_max_age(false), Some(600));
        assert_eq!(c.cookie_max_age(true), None);
        let remembered = c.decode(&c.encode(&record, NOW, false), NOW).unwrap();
        let forgotten = c.decode(&c.encode(&record, NOW, true), NOW).unwrap();
        match strategy {
            CookieCacheStrategy::Compact => {
                assert_eq!(remembered.expires_at, NOW.plus(Duration::from_secs(600)));
                assert_eq!(forgotten.expires_at, NOW.plus(Duration::from_secs(60)));
            }
            _ => {
                assert_eq!(remembered.expires_at.millis(), (secs(NOW) + 600) * 1000);
                assert_eq!(forgotten.expires_at.millis(), (secs(NOW) + 300) * 1000);
            }
        }
    }
}

// ---- rejections --------------------------------------------------------------------------------

/// `value` with the character at `i` replaced by another character of the same alphabet.
fn flip(value: &str, i: usize) -> String {
    let mut bytes = value.as_bytes().to_vec();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn tampered_compact_payload_or_signature_is_rejected() {
    let c = cache(CookieCacheStrategy::Compact);
    let outer = unb64(BA_COMPACT);
    let tampered = b64(&outer.replace("\"role\":\"admin,user\"", "\"role\":\"admin\""));
    assert_eq!(c.decode(&tampered, NOW), Err(CacheRejected::BadSignature));
    let later = b64(&outer.replace("1795395801238", "1795399999999"));
    assert_eq!(c.decode(&later, NOW), Err(CacheRejected::BadSignature));
    let sig_at = outer.find("\"signature\":\"").unwrap() + 14;
    let bad_sig = b64(&flip(&outer, sig_at));
    assert_eq!(c.decode(&bad_sig, NOW), Err(CacheRejected::BadSignature));
    let short_sig = b64(&outer.replace("\"signature\":\"dH_i", "\"signature\":\""));
    assert_eq!(c.decode(&short_sig, NOW), Err(CacheRejected::BadSignature));
}

#[test]
fn tampered_jwt_is_rejected() {
    let c = cache(CookieCacheStrategy::Jwt);
    let parts: Vec<&str> = BA_JWT.split('.').collect();
    let claims = unb64(parts[1]).replace("admin,user", "admin");
    let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_eq!(c.decode(&forged, NOW), Err(CacheRejected::BadSignature));
    let sig_flipped = flip(BA_JWT, BA_JWT.len() - 5);
    assert_eq!(
        c.decode(&sig_flipped, NOW),
        Err(CacheRejected::BadSignature)
    );
    let none_alg = format!("{}.{}.", b64("{\"alg\":\"none\"}"), parts[1]);
    assert_eq!(
        c.decode(&none_alg, NOW),
        Err(CacheRejected::UnsupportedAlgorithm)
    );
    let hs512 = format!("{}.{}.{}", b64("{\"alg\":\"HS512\"}"), parts[1], parts[2]);
    assert_eq!(
        c.decode(&hs512, NOW),
        Err(CacheRejected::UnsupportedAlgorithm)
    );
}

#[test]
fn tampered_jwe_is_rejected() {
    let c = cache(CookieCacheStrategy::Jwe);
    let parts: Vec<&str> = BA_JWE.split('.').collect();
    for part in [2, 3, 4] {
        let mut p = parts.clone();
        let flipped = flip(p[part], 3);
        p[part] = &flipped;
        assert_eq!(
            c.decode(&p.join("."), NOW),
            Err(CacheRejected::BadSignature),
            "part {part}"
        );
    }
    // The header is authenticated too (it is the AAD).
    let header = unb64(parts[0]).replace("{\"alg\"", "{\"typ\":\"JWT\",\"alg\"");
    let mut p = parts.clone();
    let h = b64(&header);
    p[0] = &h;
    assert_eq!(
        c.decode(&p.join("."), NOW),
        Err(CacheRejected::BadSignature)
    );
}

#[test]
fn wrong_secret_is_rejected() {
    let other = |strategy| {
        CookieCache::new(
            &config(strategy, 300, "1"),
            "another-secret-0000000000000000000",
        )
    };
    assert_eq!(
        other(CookieCacheStrategy::Compact).decode(BA_COMPACT, NOW),
        Err(CacheRejected::BadSignature)
    );
    assert_eq!(
        other(CookieCacheStrategy::Jwt).decode(BA_JWT, NOW),
        Err(CacheRejected::BadSignature)
    );
    assert_eq!(
        other(CookieCacheStrategy::Jwe).decode(BA_JWE, NOW),
        Err(CacheRejected::UnknownKey)
    );
    // Without a kid, the wrong key fails the tag.
    let key = jose::JweKey::derive("another-secret-0000000000000000000");
    let claims = unb64_jwe_claims(BA_JWE);
    let sealed = key.seal(
        "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}",
        claims.as_bytes(),
        true,
    );
    assert_eq!(
        cache(CookieCacheStrategy::Jwe).decode(&sealed, NOW),
        Err(CacheRejected::BadSignature)
    );
}

#[test]
fn after_rotation_only_jwe_caches_of_older_secrets_still_decode() {
    const NEW: &str = "rotated-secret-rotated-secret-0000";
    let rotated = |strategy| {
        CookieCache::new(&config(strategy, 300, "1"), NEW).accepting_older_secrets([SECRET])
    };
    // Minted before the rotation, with SECRET: Better Auth's symmetricDecodeJWT tries every
    // secret (by kid), while compact and jwt are checked with the current secret only.
    assert_eq!(
        rotated(CookieCacheStrategy::Jwe)
            .decode(BA_JWE, NOW)
            .unwrap()
            .record,
        golden_record(None)
    );
    assert_eq!(
        rotated(CookieCacheStrategy::Compact).decode(BA_COMPACT, NOW),
        Err(CacheRejected::BadSignature)
    );
    assert_eq!(
        rotated(CookieCacheStrategy::Jwt).decode(BA_JWT, NOW),
        Err(CacheRejected::BadSignature)
    );
    // Without a kid, every key is tried; a key nobody configured still fails.
    let claims = unb64_jwe_claims(BA_JWE);
    let no_kid = "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}";
    let old_sealed = jose::JweKey::derive(SECRET).seal(no_kid, claims.as_bytes(), true);
    assert!(rotated(CookieCacheStrategy::Jwe)
        .decode(&old_sealed, NOW)
        .is_ok());
    let stranger = jose::JweKey::derive("stranger-secret-stranger-secret-00");
    assert_eq!(
        rotated(CookieCacheStrategy::Jwe)
            .decode(&stranger.seal(no_kid, claims.as_bytes(), true), NOW),
        Err(CacheRejected::BadSignature)
    );
    // New caches are minted with the current secret: its kid, readable without the old one.
    let minted = rotated(CookieCacheStrategy::Jwe).encode(&golden_record(None), NOW, false);
    let current_only = CookieCache::new(&config(CookieCacheStrategy::Jwe, 300, "1"), NEW);
    assert!(current_only.decode(&minted, NOW).is_ok());
}

/// The plaintext claims of a JWE minted with [`SECRET`].
fn unb64_jwe_claims(token: &str) -> String {
    let (claims, _) = jose::decrypt_jwe(token, &[jose::JweKey::derive(SECRET)], NOW).unwrap();
    serde_json::to_string(&claims).unwrap()
}

#[test]
fn jwe_without_kid_is_accepted_with_the_right_key() {
    let key = jose::JweKey::derive(SECRET);
    let claims = unb64_jwe_claims(BA_JWE);
    let sealed = key.seal(
        "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}",
        claims.as_bytes(),
        true,
    );
    let decoded = cache(CookieCacheStrategy::Jwe)
        .decode(&sealed, NOW)
        .unwrap();
    assert_eq!(decoded.record, golden_record(None));
}

#[test]
fn version_must_match() {
    let record = golden_record(None);
    for strategy in ALL {
        let v2 = CookieCache::new(&config(strategy, 300, "2"), SECRET);
        let v1 = cache(strategy);
        assert_eq!(
            v2.decode(&v1.encode(&record, NOW, false), NOW),
            Err(CacheRejected::WrongVersion)
        );
        assert_eq!(
            v1.decode(&v2.encode(&record, NOW, false), NOW),
            Err(CacheRejected::WrongVersion)
        );
        assert!(v2.decode(&v2.encode(&record, NOW, false), NOW).is_ok());
    }
    // Better Auth's BA_* vectors say "1"; a cache configured for "2" refuses them.
    let v2 = CookieCache::new(&config(CookieCacheStrategy::Compact, 300, "2"), SECRET);
    assert_eq!(v2.decode(BA_COMPACT, NOW), Err(CacheRejected::WrongVersion));
}

#[test]
fn missing_or_empty_version_means_1() {
    let key = SigningKey::new(SECRET);
    let p = payload::write(&golden_record(None), NOW, "1", &AdditionalFields::default());
    for replacement in ["", ",\"version\":\"\""] {
        let p = p.replace(",\"version\":\"1\"", replacement);
        let value = compact::mint(&p, NOW.plus(Duration::from_secs(300)), &key);
        let decoded = cache(CookieCacheStrategy::Compact).decode(&value, NOW);
        assert!(decoded.is_ok(), "{replacement:?}: {decoded:?}");
    }
    let p = p.replace(",\"version\":\"1\"", ",\"version\":1");
    let value = compact::mint(&p, NOW.plus(Duration::from_secs(300)), &key);
    assert_eq!(
        cache(CookieCacheStrategy::Compact).decode(&value, NOW),
        Err(CacheRejected::InvalidPayload)
    );
}

#[test]
fn expired_outer_and_expired_session_are_rejected() {
    for strategy in ALL {
        let c = cache(strategy);
        let value = c.encode(&golden_record(None), NOW, false);
        let later = NOW.plus(Duration::from_secs(301));
        assert_eq!(
            c.decode(&value, later),
            Err(CacheRejected::Expired),
            "{strategy:?}"
        );

        let mut record = golden_record(None);
        record.session.expires_at = NOW.plus(Duration::from_secs(10));
        let value = c.encode(&record, NOW, false);
        assert!(c.decode(&value, NOW.plus(Duration::from_secs(10))).is_ok());
        assert_eq!(
            c.decode(&value, NOW.plus(Duration::from_millis(10_001))),
            Err(CacheRejected::SessionExpired),
            "{strategy:?}"
        );
    }
}

#[test]
fn jwt_nbf_in_the_future_is_rejected() {
    let key = SigningKey::new(SECRET);
    let p = payload::write(&golden_record(None), NOW, "1", &AdditionalFields::default());
    let claims = format!(
        "{},\"nbf\":{},\"exp\":{}}}",
        p.strip_suffix('}').unwrap(),
        secs(NOW) + 10,
        secs(NOW) + 300
    );
    let input = format!("eyJhbGciOiJIUzI1NiJ9.{}", b64(&claims));
    let token = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(key.mac(input.as_bytes()))
    );
    let c = cache(CookieCacheStrategy::Jwt);
    assert_eq!(c.decode(&token, NOW), Err(CacheRejected::NotYetValid));
    assert!(c.decode(&token, NOW.plus(Duration::from_secs(10))).is_ok());
}

#[test]
fn malformed_inputs_are_rejected_for_every_strategy() {
    let junk = [
        "",
        "!",
        "abc!def",
        "....",
        ".....",
        "a.b.c",
        "a..b.c.d",
        "\u{2603}",
        "eyJ",
        "e30",                 // {}
        "W10",                 // []
        "bnVsbA",              // null
        "_-8",                 // invalid UTF-8 after decoding
        "eyJzZXNzaW9uIjp7fX0", // {"session":{}}
    ];
    for strategy in ALL {
        for value in junk {
            let result = cache(strategy).decode(value, NOW);
            assert!(result.is_err(), "{strategy:?} {value:?}: {result:?}");
        }
    }
}

#[test]
fn malformed_compact_structures_are_rejected() {
    let c = cache(CookieCacheStrategy::Compact);
    let key = SigningKey::new(SECRET);
    let e = NOW.millis() + 300_000;
    let sig = |p: &str| {
        URL_SAFE_NO_PAD
            .encode(key.mac(format!("{},\"expiresAt\":{e}}}", &p[..p.len() - 1]).as_bytes()))
    };
    let p = payload::write(&golden_record(None), NOW, "1", &AdditionalFields::default());
    let good = format!(
        "{{\"session\":{p},\"expiresAt\":{e},\"signature\":\"{}\"}}",
        sig(&p)
    );
    assert!(c.decode(&b64(&good), NOW).is_ok());
    // Extra outer keys are allowed, whitespace too (signature is over P's bytes as sent).
    let spaced = format!(
        "{{ \"x\" : [1,{{\"session\":2}}] , \"session\" : {p} , \"expiresAt\" : {e} , \"signature\" : \"{}\" }}",
        sig(&p)
    );
    assert!(c.decode(&b64(&spaced), NOW).is_ok());
    for (outer, why) in [
        (
            good.replace(&format!("\"expiresAt\":{e},"), ""),
            "no expiresAt",
        ),
        (
            good.replace(
                &format!("\"expiresAt\":{e}"),
                &format!("\"expiresAt\":\"{e}\""),
            ),
            "string expiresAt",
        ),
        (
            good.replace(
                &format!("\"expiresAt\":{e}"),
                &format!("\"expiresAt\":{e}.5"),
            ),
            "float expiresAt",
        ),
        (
            good.replace("\"signature\":\"", "\"signature\":[\"")
                .replace("\"}", "\"]}"),
            "array signature",
        ),
        (
            format!(
                "{{\"session\":\"{}\",\"expiresAt\":{e},\"signature\":\"x\"}}",
                "s"
            ),
            "string session",
        ),
        (good[..good.len() - 1].to_owned(), "truncated JSON"),
        (format!("[{good}]"), "array"),
    ] {
        assert_eq!(
            c.decode(&b64(&outer), NOW),
            Err(CacheRejected::Malformed),
            "{why}"
        );
    }
    // Base64 with a non-alphabet character, and with padding in the middle.
    assert_eq!(
        c.decode(&format!("{}+", b64(&good)), NOW),
        Err(CacheRejected::Malformed)
    );
    assert_eq!(c.decode("ab=cd", NOW), Err(CacheRejected::Malformed));
    // Duplicate "session": both JSON.parse and the raw scanner take the last one.
    let dup = format!(
        "{{\"session\":{{\"a\":1}},\"session\":{p},\"expiresAt\":{e},\"signature\":\"{}\"}}",
        sig(&p)
    );
    assert!(c.decode(&b64(&dup), NOW).is_ok());
}

#[test]
fn malformed_jwt_structures_are_rejected() {
    let c = cache(CookieCacheStrategy::Jwt);
    let key = SigningKey::new(SECRET);
    let sign = |header: &str, claims: &str| {
        let input = format!("{}.{}", b64(header), b64(claims));
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(key.mac(input.as_bytes()))
        )
    };
    let p = payload::write(&golden_record(None), NOW, "1", &AdditionalFields::default());
    let body = p.strip_suffix('}').unwrap();
    let exp = secs(NOW) + 300;
    let hs = "{\"alg\":\"HS256\"}";
    assert!(c
        .decode(&sign(hs, &format!("{body},\"exp\":{exp}}}")), NOW)
        .is_ok());
    for (token, want) in [
        (sign(hs, &p), CacheRejected::Malformed), // no exp
        (
            sign(hs, &format!("{body},\"exp\":\"{exp}\"}}")),
            CacheRejected::Malformed,
        ), // string exp
        (
            sign(hs, &format!("{body},\"exp\":{exp},\"iat\":\"x\"}}")),
            CacheRejected::Malformed,
        ),
        (sign(hs, "[1]"), CacheRejected::Malformed),
        (sign(hs, "not json"), CacheRejected::Malformed),
        (
            sign("{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", &p),
            CacheRejected::UnsupportedAlgorithm,
        ),
        (sign("[]", &p), CacheRejected::Malformed),
        (
            sign(hs, &format!("{{\"exp\":{exp}}}")),
            CacheRejected::InvalidPayload,
        ),
    ] {
        assert_eq!(c.decode(&token, NOW), Err(want), "{token}");
    }
    let good = sign(hs, &format!("{body},\"exp\":{exp}}}"));
    assert_eq!(
        c.decode(&format!("{good}.x"), NOW),
        Err(CacheRejected::Malformed)
    );
    assert_eq!(
        c.decode(&good.replace('.', ""), NOW),
        Err(CacheRejected::Malformed)
    );
    assert_eq!(
        c.decode(&format!("{good}!"), NOW),
        Err(CacheRejected::BadSignature)
    );
}

#[test]
fn malformed_jwe_structures_are_rejected() {
    let c = cache(CookieCacheStrategy::Jwe);
    let key = jose::JweKey::derive(SECRET);
    let kid = key.kid().to_owned();
    let cbc = format!("{{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\",\"kid\":\"{kid}\"}}");
    let claims = unb64_jwe_claims(BA_JWE);
    assert!(c
        .decode(&key.seal(&cbc, claims.as_bytes(), true), NOW)
        .is_ok());
    let with = |header: &str| key.seal(header, claims.as_bytes(), true);
    for (token, want, why) in [
        (
            with(&cbc.replace("A256CBC-HS512", "A256GCM")),
            CacheRejected::UnsupportedAlgorithm,
            "gcm",
        ),
        (
            with(&cbc.replace("\"dir\"", "\"A256KW\"")),
            CacheRejected::UnsupportedAlgorithm,
            "kw",
        ),
        (
            with(&cbc.replace("{\"alg\"", "{\"zip\":\"DEF\",\"alg\"")),
            CacheRejected::UnsupportedAlgorithm,
            "zip",
        ),
        (
            with(&cbc.replace("{\"alg\"", "{\"crit\":[\"x\"],\"alg\"")),
            CacheRejected::UnsupportedAlgorithm,
            "crit",
        ),
        (
            with(&cbc.replace(&format!("\"{kid}\""), "42")),
            CacheRejected::UnknownKey,
            "numeric kid",
        ),
        (with("[]"), CacheRejected::Malformed, "header array"),
        (
            key.seal(&cbc, b"not json", true),
            CacheRejected::Malformed,
            "plaintext",
        ),
        (
            key.seal(&cbc, &[0xff, 0xfe, b'{', b'}'], true),
            CacheRejected::Malformed,
            "utf8",
        ),
        (
            key.seal(&cbc, b"0123456789abcdef", false),
            CacheRejected::BadSignature,
            "padding",
        ),
        (
            key.seal(&cbc, b"{\"exp\":1}", true),
            CacheRejected::Expired,
            "old exp",
        ),
        (
            key.seal(&cbc, &claims.as_bytes()[..claims.len() - 1], true),
            CacheRejected::Malformed,
            "cut",
        ),
    ] {
        assert_eq!(c.decode(&token, NOW), Err(want), "{why}");
    }
    let parts: Vec<&str> = BA_JWE.split('.').collect();
    let join = |p: &[&str]| p.join(".");
    for (i, replacement, why) in [
        (1, "AAAA", "encrypted key present"),
        (2, "", "no iv"),
        (2, "AAAAAAAAAAAAAAAA", "iv 12 bytes"),
        (3, "", "no ciphertext"),
        (
            3,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "ciphertext not block-aligned",
        ),
        (4, "", "no tag"),
        (4, "AAAAAAAAAAAAAAAAAAAAAA", "tag 16 bytes"),
        (4, "!!!!", "tag not base64"),
        (0, "!!!!", "header not base64"),
        (0, "", "empty header"),
    ] {
        let mut p = parts.clone();
        p[i] = replacement;
        assert!(c.decode(&join(&p), NOW).is_err(), "{why}");
    }
    assert_eq!(
        c.decode(&join(&parts[..4]), NOW),
        Err(CacheRejected::Malformed)
    );
    assert_eq!(
        c.decode(&format!("{BA_JWE}."), NOW),
        Err(CacheRejected::Malformed)
    );
}

#[test]
fn jwe_clock_tolerance_is_inside_but_caller_sees_exp() {
    // jose accepts exp up to 15 s late, but /get-session then requires exp * 1000 >= now.
    let key = jose::JweKey::derive(SECRET);
    let p = payload::write(&golden_record(None), NOW, "1", &AdditionalFields::default());
    let exp = secs(NOW) - 5;
    let claims = format!("{},\"exp\":{exp}}}", p.strip_suffix('}').unwrap());
    let (_, expires_at) = jose::decrypt_jwe(
        &key.seal(
            "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}",
            claims.as_bytes(),
            true,
        ),
        std::slice::from_ref(&key),
        NOW,
    )
    .unwrap();
    assert_eq!(expires_at.millis(), exp * 1000);
    let token = key.seal(
        "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}",
        claims.as_bytes(),
        true,
    );
    assert_eq!(
        cache(CookieCacheStrategy::Jwe).decode(&token, NOW),
        Err(CacheRejected::Expired)
    );
}

#[test]
fn no_input_panics() {
    // Every single-character substitution and every truncation of real values.
    let alphabet = ['A', '_', '-', '.', '=', '%', '"', '\u{e9}'];
    let values = [
        (CookieCacheStrategy::Compact, BA_COMPACT),
        (CookieCacheStrategy::Jwt, BA_JWT),
        (CookieCacheStrategy::Jwe, BA_JWE),
    ];
    for (strategy, value) in values {
        let c = cache(strategy);
        for i in (0..value.len()).step_by(3) {
            let _ = c.decode(&value[..i], NOW);
            for ch in alphabet {
                let mut s = String::with_capacity(value.len() + 2);
                s.push_str(&value[..i]);
                s.push(ch);
                s.push_str(&value[i + 1..]);
                let _ = c.decode(&s, NOW);
            }
        }
    }
    // Compact payloads that are valid base64 of arbitrary JSON-ish text.
    let c = cache(CookieCacheStrategy::Compact);
    let outer = unb64(BA_COMPACT);
    for i in 0..outer.len() {
        if outer.is_char_boundary(i) {
            let _ = c.decode(&b64(&outer[..i]), NOW);
            let _ = c.decode(&b64(&format!("{}{}", &outer[..i], "\"{[\\")), NOW);
        }
    }
}

// ---- payload mapping ---------------------------------------------------------------------------

fn decode_payload(p: &str) -> Result<DecodedCache, CacheRejected> {
    let value = compact::mint(
        p,
        NOW.plus(Duration::from_secs(300)),
        &SigningKey::new(SECRET),
    );
    cache(CookieCacheStrategy::Compact).decode(&value, NOW)
}

const MINIMAL: &str = r#"{"session":{"id":"s","token":"t","userId":"u","expiresAt":"2027-01-01T00:00:00Z"},"user":{"id":"u","email":"A@Example.COM","name":"A"},"updatedAt":1795395501238}"#;

#[test]
fn minimal_payload_fills_defaults() {
    let d = decode_payload(MINIMAL).unwrap();
    let (s, u) = (&d.record.session, &d.record.user);
    assert_eq!(s.expires_at, parse_iso("2027-01-01T00:00:00.000Z").unwrap());
    assert_eq!(
        (s.created_at, s.updated_at),
        (NOW, NOW),
        "zod default: new Date()"
    );
    assert_eq!(
        (&s.ip_address, &s.user_agent, &s.impersonated_by),
        (&None, &None, &None)
    );
    assert_eq!(u.email, "a@example.com", "zod lowercases email");
    assert!(!u.email_verified);
    assert_eq!(
        (&u.image, &u.role, u.banned, &u.ban_reason, u.ban_expires),
        (&None, &None, None, &None, None)
    );
    assert!(u.extra.is_empty());
}

#[test]
fn extra_keys_are_ignored_and_plugin_fields_are_loose() {
    let p = MINIMAL
        .replace("\"name\":\"A\"", "\"name\":\"A\",\"role\":7,\"banned\":\"yes\",\"banExpires\":\"soon\",\"phone\":{\"x\":[1]}")
        .replace("\"userId\":\"u\"", "\"userId\":\"u\",\"activeOrganizationId\":\"org\",\"impersonatedBy\":false");
    let d = decode_payload(&p).unwrap();
    assert_eq!(
        (
            &d.record.user.role,
            d.record.user.banned,
            d.record.user.ban_expires
        ),
        (&None, None, None)
    );
    assert_eq!(d.record.session.impersonated_by, None);
}

#[test]
fn schema_violations_are_invalid_payload() {
    for (from, to) in [
        ("\"id\":\"s\",", ""),
        ("\"token\":\"t\"", "\"token\":null"),
        ("\"userId\":\"u\"", "\"userId\":[]"),
        (
            "\"expiresAt\":\"2027-01-01T00:00:00Z\"",
            "\"expiresAt\":1798761600000",
        ),
        (
            "\"expiresAt\":\"2027-01-01T00:00:00Z\"",
            "\"expiresAt\":\"2027-01-01T00:00:00+00:00\"",
        ),
        (
            "\"expiresAt\":\"2027-01-01T00:00:00Z\"",
            "\"expiresAt\":\"2027-02-30\"",
        ),
        (
            "\"expiresAt\":\"2027-01-01T00:00:00Z\"",
            "\"expiresAt\":\"2027-13-01T00:00:00Z\"",
        ),
        ("\"userId\":\"u\"", "\"userId\":\"u\",\"createdAt\":null"),
        ("\"userId\":\"u\"", "\"userId\":\"u\",\"ipAddress\":5"),
        ("\"email\":\"A@Example.COM\"", "\"email\":null"),
        ("\"name\":\"A\"", "\"name\":\"2020-01-01T00:00:00Z\""),
        ("\"name\":\"A\"", "\"name\":\"A\",\"emailVerified\":null"),
        ("\"name\":\"A\"", "\"name\":\"A\",\"image\":false"),
        (
            "\"updatedAt\":1795395501238",
            "\"updatedAt\":\"1795395501238\"",
        ),
        (
            "\"updatedAt\":1795395501238",
            "\"updatedAt\":1795395501238,\"version\":null",
        ),
        ("\"user\":{", "\"user\":[{"),
    ] {
        let p = MINIMAL.replacen(from, to, 1);
        assert_ne!(p, MINIMAL, "{from}");
        let result = decode_payload(&p);
        assert!(
            matches!(
                result,
                Err(CacheRejected::InvalidPayload | CacheRejected::Malformed)
            ),
            "{to}: {result:?}"
        );
    }
}

#[test]
fn iso_dates_parse_as_v8_does() {
    let ms = |s: &str| parse_iso(s).map(Timestamp::millis);
    assert_eq!(ms("2026-11-30T00:58:21.213Z"), Some(1_796_000_301_213));
    assert_eq!(ms("2021-01-01T00:00:00.1Z"), Some(1_609_459_200_100));
    assert_eq!(ms("2021-01-01T00:00:00.12Z"), Some(1_609_459_200_120));
    assert_eq!(ms("2021-01-01T00:00:00.9999Z"), Some(1_609_459_200_999));
    assert_eq!(
        ms("2021-01-01T00:00:00.123456789012345678901234Z"),
        Some(1_609_459_200_123)
    );
    assert_eq!(
        ms("2021-02-30T00:00:00Z"),
        Some(1_614_643_200_000),
        "rolls over"
    );
    assert_eq!(ms("2021-01-01T24:00:00Z"), Some(1_609_545_600_000));
    assert_eq!(ms("2021-01-01T24:00:00.000Z"), Some(1_609_545_600_000));
    assert_eq!(ms("0000-01-01T00:00:00Z"), Some(-62_167_219_200_000));
    assert_eq!(ms("1969-12-31T23:59:59.999Z"), Some(-1));
    assert_eq!(ms("9999-12-31T23:59:59.999Z"), Some(253_402_300_799_999));
    for bad in [
        "2021-13-01T00:00:00Z",
        "2021-00-01T00:00:00Z",
        "2021-01-00T00:00:00Z",
        "2021-01-32T00:00:00Z",
        "2021-01-01T24:00:01Z",
        "2021-01-01T24:00:00.5Z",
        "2021-01-01T23:60:00Z",
        "2021-01-01T23:59:60Z",
        "2021-01-01T00:00:00.Z",
        "2021-01-01T00:00:00",
        "2021-01-01 00:00:00Z",
        "2021-01-01T00:00:00+00:00",
        "+02021-01-01T00:00:00Z",
        "2021-1-01T00:00:00Z",
        "２021-01-01T00:00:00Z",
        "",
    ] {
        assert_eq!(parse_iso(bad), None, "{bad}");
    }
    for t in [
        0,
        1,
        999,
        1_795_395_501_238,
        -1,
        253_402_300_799_999,
        951_782_400_000,
    ] {
        let t = Timestamp::from_millis(t);
        assert_eq!(parse_iso(&t.to_iso()), Some(t), "{}", t.to_iso());
    }
}

#[test]
fn strings_are_escaped_like_json_stringify() {
    // serde_json escapes exactly as JSON.stringify for every string without lone surrogates.
    let mut all: String = (0u32..0x80).filter_map(char::from_u32).collect();
    all.push_str("é☃\u{2028}\u{2029}\u{fffd}😀/");
    for c in all.chars() {
        let s = c.to_string();
        let mut ours = String::new();
        json_string(&mut ours, &s);
        assert_eq!(ours, serde_json::to_string(&s).unwrap(), "{:?}", c);
    }
    let mut ours = String::new();
    json_string(&mut ours, "\u{1}\u{1f}\"\\\u{8}\u{c}\n\r\t");
    assert_eq!(ours, r#""\u0001\u001f\"\\\b\f\n\r\t""#);
}

#[test]
fn raw_member_respects_strings_escapes_and_nesting() {
    let json =
        r#" { "a" : "}\"{" , "session" : { "x" : [ "]", { "y" : "\\" } ] , "z":null } , "b":1 } "#;
    assert_eq!(
        raw_member(json, "session"),
        Some(r#"{ "x" : [ "]", { "y" : "\\" } ] , "z":null }"#)
    );
    assert_eq!(raw_member(json, "a"), Some(r#""}\"{""#));
    assert_eq!(raw_member(json, "b"), Some("1"));
    assert_eq!(raw_member(json, "c"), None);
    assert_eq!(
        raw_member(r#"{"session":1,"session":{"k":2}}"#, "session"),
        Some(r#"{"k":2}"#)
    );
    assert_eq!(
        raw_member(r#"{"sess\u0069on":true}"#, "session"),
        Some("true")
    );
    assert_eq!(
        raw_member(r#"{"x":{"session":1}}"#, "session"),
        None,
        "top level only"
    );
    for bad in [
        "",
        "{",
        "[]",
        "{}",
        r#"{"session""#,
        r#"{"session":"#,
        r#"{"session":{"#,
        r#"{"session":"abc"#,
        r#"{"a":1 "b":2}"#,
    ] {
        assert_eq!(raw_member(bad, "session"), None, "{bad}");
    }
}

// ---- chunks ------------------------------------------------------------------------------------

#[test]
fn reads_whole_cookie_or_chunks() {
    assert_eq!(
        read_chunked(&["a=1; x=whole; x.0=zero"], "x").as_deref(),
        Some("whole")
    );
    assert_eq!(
        read_chunked(&["x.1=b; x.0=a; x.2=c"], "x").as_deref(),
        Some("abc")
    );
    assert_eq!(
        read_chunked(&["x.10=k; x.2=c", "x.0=a; x.1=b"], "x").as_deref(),
        Some("abck"),
        "numeric order, across headers"
    );
    assert_eq!(
        read_chunked(
            &["x.01=bad; x.0=a; x.+1=bad; x.1e0=bad; x.-0=bad; x.=bad; x.1=b"],
            "x"
        )
        .as_deref(),
        Some("ab"),
        "non-canonical indexes ignored"
    );
    assert_eq!(
        read_chunked(
            &["x.0=a; x.0=dup; x.9007199254740992=big; x.9007199254740991=max"],
            "x"
        )
        .as_deref(),
        Some("amax")
    );
    assert_eq!(
        read_chunked(&["x=; x.0=a"], "x").as_deref(),
        Some("a"),
        "empty whole value"
    );
    assert_eq!(
        read_chunked(&["x.0=\"a%2Db\"; x.1=c"], "x").as_deref(),
        Some("a-bc")
    );
    assert_eq!(read_chunked(&["xy.0=a; x_0=b; y=c"], "x"), None);
    assert_eq!(read_chunked(&[], "x"), None);
    assert_eq!(read_chunked(&["x.0="], "x"), None);
}

#[test]
fn lists_chunk_names_once_in_order() {
    assert_eq!(
        chunk_names(&["x.1=a; y=b; x=c", "x.1=d; x.01=e; x.0=f"], "x"),
        ["x.1", "x", "x.0"]
    );
}

#[test]
fn small_values_are_one_cookie_and_stale_chunks_are_deleted() {
    let stale = vec!["x.0".to_owned(), "x.1".to_owned(), "x.0".to_owned()];
    assert_eq!(
        set_cookie_headers(
            "x",
            "abc",
            Some(300),
            &CookieAttributes::better_auth_defaults(true),
            &stale
        ),
        [
            "x.0=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax",
            "x.1=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax",
            "x=abc; Max-Age=300; Path=/; HttpOnly; Secure; SameSite=Lax",
        ]
    );
    assert_eq!(
        set_cookie_headers(
            "x",
            "a+b",
            None,
            &CookieAttributes::better_auth_defaults(false),
            &["x".to_owned()]
        ),
        ["x=a%2Bb; Path=/; HttpOnly; SameSite=Lax"]
    );
}

#[test]
fn large_values_are_split_under_the_limit() {
    let value: String = (0..10_000u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let stale = [
        COOKIE.to_owned(),
        format!("{COOKIE}.1"),
        format!("{COOKIE}.5"),
    ];
    let headers = set_cookie_headers(
        COOKIE,
        &value,
        Some(300),
        &CookieAttributes::better_auth_defaults(true),
        &stale,
    );
    let names: Vec<&str> = headers
        .iter()
        .map(|h| h.split('=').next().unwrap())
        .collect();
    let expected = [
        COOKIE.to_owned(),
        format!("{COOKIE}.1"),
        format!("{COOKIE}.5"),
        format!("{COOKIE}.0"),
        format!("{COOKIE}.2"),
    ];
    assert_eq!(names, expected, "request names first, then new ones");
    for h in &headers {
        assert!(h.len() <= 4050, "{} bytes", h.len());
    }
    let deleted: Vec<&str> = headers
        .iter()
        .filter(|h| h.contains("=; Max-Age=0;"))
        .map(|h| h.split('=').next().unwrap())
        .collect();
    assert_eq!(deleted, [COOKIE.to_owned(), format!("{COOKIE}.5")]);
    let pairs: Vec<&str> = headers
        .iter()
        .filter(|h| !h.contains("=; Max-Age=0;"))
        .map(|h| h.split(';').next().unwrap())
        .collect();
    assert_eq!(pairs.len(), 3);
    assert_eq!(
        read_chunked(&[pairs.join("; ").as_str()], COOKIE).unwrap(),
        value
    );
    // Each full chunk is as large as the worst-case name `.99` allows.
    let attrs = "; Max-Age=300; Path=/; HttpOnly; Secure; SameSite=Lax";
    let size = 4050 - format!("{COOKIE}.99=").len() - attrs.len();
    assert_eq!(pairs[0].len(), format!("{COOKIE}.1=").len() + size);
}

#[test]
fn re_set_chunks_keep_their_request_position() {
    let value = "v".repeat(5000);
    let stale = vec!["x.1".to_owned(), "x.7".to_owned()];
    let headers = set_cookie_headers(
        "x",
        &value,
        None,
        &CookieAttributes::better_auth_defaults(false),
        &stale,
    );
    let names: Vec<&str> = headers
        .iter()
        .map(|h| h.split('=').next().unwrap())
        .collect();
    assert_eq!(names, ["x.1", "x.7", "x.0"]);
    assert!(headers[0].len() > 100 && headers[1].contains("Max-Age=0"));
}

#[test]
fn oversized_values_are_not_stored() {
    let value = "v".repeat(101 * 4000);
    let headers = set_cookie_headers(
        "x",
        &value,
        Some(300),
        &CookieAttributes::better_auth_defaults(false),
        &["x".to_owned()],
    );
    assert_eq!(headers, ["x=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"]);
    let at_limit = "v".repeat(
        100 * (4050 - "x.99=".len() - "; Max-Age=300; Path=/; HttpOnly; SameSite=Lax".len()),
    );
    assert_eq!(
        set_cookie_headers(
            "x",
            &at_limit,
            Some(300),
            &CookieAttributes::better_auth_defaults(false),
            &[]
        )
        .len(),
        100
    );
    let long_name = "n".repeat(4100);
    assert!(set_cookie_headers(
        &long_name,
        "v",
        None,
        &CookieAttributes::better_auth_defaults(false),
        &[]
    )
    .is_empty());
}

#[test]
fn splitting_never_cuts_a_character() {
    let value = "é".repeat(3000);
    let headers = set_cookie_headers(
        "x",
        &value,
        None,
        &CookieAttributes::better_auth_defaults(false),
        &[],
    );
    assert!(headers.len() > 1);
}
