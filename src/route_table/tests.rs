use super::*;
use crate::config::{parse_toml, MapEnv};

fn config(toml: &str) -> Config {
    let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
    Config::from_file(parse_toml(toml).unwrap(), &env).unwrap()
}

const ROUTES: &str = "[[routes]]\nprefix = \"/public\"\npolicy = \"public\"\n\
    [[routes]]\nprefix = \"/public/private\"\n\
    [[routes]]\nprefix = \"/app\"\npolicy = \"optional\"\n\
    [[routes]]\nprefix = \"/app\"\nhost = \"admin.example.com\"\nupstream = \"http://127.0.0.1:5001\"\n\
    [[routes]]\nprefix = \"/files/\"\npolicy = \"public\"\n";

#[test]
fn longest_prefix_wins() {
    let table = RouteTable::new(&config(ROUTES));
    assert_eq!(table.classify(None, "/public/x").policy, Policy::Public);
    assert_eq!(
        table.classify(None, "/public/private/x").policy,
        Policy::Required
    );
    assert_eq!(table.classify(None, "/public").policy, Policy::Public);
}

#[test]
fn restricting_routes_match_in_any_case_granting_ones_in_their_own() {
    let c = config(
        "[[routes]]\nprefix = \"/\"\npolicy = \"public\"\n\
         [[routes]]\nprefix = \"/admin\"\nroles = [\"admin\"]\n\
         [[routes]]\nprefix = \"/static\"\npolicy = \"public\"\n\
         [[routes]]\nprefix = \"/Wiki\"\ncase_sensitive = true\n",
    );
    let table = RouteTable::new(&c);
    for path in ["/admin", "/ADMIN/x", "/Admin"] {
        assert_eq!(table.classify(None, path).name.as_ref(), "/admin", "{path}");
    }
    assert_eq!(table.classify(None, "/static/a").name.as_ref(), "/static");
    assert_eq!(table.classify(None, "/STATIC/a").name.as_ref(), "/");
    assert_eq!(table.classify(None, "/Wiki/a").name.as_ref(), "/Wiki");
    assert_eq!(table.classify(None, "/wiki/a").name.as_ref(), "/");
    // The Better Auth pass-through matches in its own case only.
    assert_eq!(table.classify(None, "/API/AUTH/x").name.as_ref(), "/");
}

#[test]
fn prefixes_match_whole_segments() {
    let table = RouteTable::new(&config(ROUTES));
    assert_eq!(table.classify(None, "/publicity").name.as_ref(), "default");
    assert_eq!(table.classify(None, "/files/a").policy, Policy::Public);
    assert_eq!(table.classify(None, "/filesx").name.as_ref(), "default");
}

#[test]
fn host_specific_routes_beat_hostless_ones() {
    let table = RouteTable::new(&config(ROUTES));
    let admin = table.classify(Some("Admin.Example.com:8443"), "/app/x");
    assert_eq!(admin.policy, Policy::Required);
    assert_eq!(admin.upstream.addr.port(), 5001);
    assert_eq!(
        table.classify(Some("other.example.com"), "/app/x").policy,
        Policy::Optional
    );
    assert_eq!(table.classify(None, "/app/x").policy, Policy::Optional);
}

#[test]
fn unmatched_paths_are_required_on_the_default_upstream() {
    let c = config(ROUTES);
    let table = RouteTable::new(&c);
    let m = table.classify(None, "/anything");
    assert_eq!((m.name.as_ref(), m.policy), ("default", Policy::Required));
    assert_eq!(m.upstream, &c.proxy.upstream);
}

#[test]
fn better_auth_base_path_passes_through() {
    let c =
        config("[better_auth]\nupstream = \"http://127.0.0.1:4000\"\n[[routes]]\nprefix = \"/\"\n");
    let table = RouteTable::new(&c);
    for path in [
        "/api/auth",
        "/api/auth/sign-in/email",
        "/api/auth/get-session",
    ] {
        let m = table.classify(None, path);
        assert_eq!(
            (m.name.as_ref(), m.policy),
            ("better_auth", Policy::Public),
            "{path}"
        );
        assert_eq!(m.upstream.addr.port(), 4000);
    }
    assert_eq!(table.classify(None, "/api/authx").name.as_ref(), "/");
}
