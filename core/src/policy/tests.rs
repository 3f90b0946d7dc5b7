//! The policy's rules, table-driven: first match, default deny, each condition, and paths and
//! methods as attackers spell them.

use super::*;
use crate::scope::ScopeSet;

const ALICE: i64 = 2;
const CI: i64 = 5;
const FINANCE: GroupId = 7;
const OPS: GroupId = 8;

/// Rules as written, with the names resolved as the admin API resolves them.
fn rules(texts: &[&str]) -> Vec<Rule> {
    texts
        .iter()
        .map(|t| {
            let mut rule = parse_rule(t).unwrap_or_else(|e| panic!("{e}"));
            for c in &mut rule.when {
                match c {
                    Condition::Users(v) => v.iter_mut().for_each(|u| {
                        u.id = match u.name.as_str() {
                            "alice" => ALICE,
                            "ci" => CI,
                            _ => 99,
                        }
                    }),
                    Condition::Groups(v) => v.iter_mut().for_each(|g| {
                        g.id = match g.name.as_str() {
                            "finance" => FINANCE,
                            "ops" => OPS,
                            _ => 99,
                        }
                    }),
                    Condition::Credentials(v) => v
                        .iter_mut()
                        .for_each(|c| c.id = format!("id-of-{}", c.name)),
                    _ => {}
                }
            }
            rule
        })
        .collect()
}

struct Req {
    user: i64,
    groups: Vec<GroupId>,
    client_id: &'static str,
    scopes: ScopeSet,
    method: &'static str,
    path: &'static str,
}

fn req(user: i64, method: &'static str, path: &'static str) -> Req {
    Req {
        user,
        groups: vec![],
        client_id: "id-of-other",
        scopes: ScopeSet::parse("service:payroll").unwrap(),
        method,
        path,
    }
}

fn verdict(rules: &[Rule], r: &Req) -> Verdict {
    evaluate(
        rules,
        &Request {
            user: r.user,
            groups: &r.groups,
            client_id: r.client_id,
            scopes: &r.scopes,
            method: r.method,
            path: r.path,
        },
    )
}

fn allowed(rules: &[Rule], r: &Req) -> bool {
    matches!(verdict(rules, r), Verdict::Allow(_))
}

#[test]
fn no_rules_admit_everything_and_rules_deny_by_default() {
    assert_eq!(verdict(&[], &req(ALICE, "GET", "/")), Verdict::Allow(None));
    let only_ci = rules(&["allow user=ci"]);
    assert_eq!(
        verdict(&only_ci, &req(ALICE, "GET", "/")),
        Verdict::NoRuleMatched
    );
    assert_eq!(
        verdict(&only_ci, &req(CI, "GET", "/")),
        Verdict::Allow(Some(0))
    );
}

#[test]
fn the_first_matching_rule_decides() {
    let deny_first = rules(&["deny paths=/admin", "allow any"]);
    let allow_first = rules(&["allow any", "deny paths=/admin"]);
    let admin = req(ALICE, "GET", "/admin/users");
    assert_eq!(verdict(&deny_first, &admin), Verdict::Denied(0));
    assert_eq!(verdict(&allow_first, &admin), Verdict::Allow(Some(0)));
    assert_eq!(
        verdict(&deny_first, &req(ALICE, "GET", "/reports")),
        Verdict::Allow(Some(1))
    );
    // The example: finance everywhere but /admin? No: first match, so finance's allow
    // comes first and wins there too; ci only GETs reports; nobody else.
    let payroll = rules(&[
        "allow group=finance",
        "allow user=ci methods=GET paths=/reports/*",
        "deny paths=/admin/*",
    ]);
    let finance = Req {
        groups: vec![OPS, FINANCE],
        ..req(ALICE, "POST", "/admin/x")
    };
    assert_eq!(verdict(&payroll, &finance), Verdict::Allow(Some(0)));
    assert_eq!(
        verdict(&payroll, &req(CI, "GET", "/reports/q1")),
        Verdict::Allow(Some(1))
    );
    assert_eq!(
        verdict(&payroll, &req(CI, "POST", "/reports/q1")),
        Verdict::NoRuleMatched
    );
    assert_eq!(
        verdict(&payroll, &req(CI, "GET", "/admin/x")),
        Verdict::Denied(2)
    );
}

#[test]
fn each_condition_matches_its_own_part_of_the_request() {
    let by_user = rules(&["allow user=alice,ci"]);
    assert!(allowed(&by_user, &req(CI, "GET", "/")));
    assert!(!allowed(&by_user, &req(42, "GET", "/")));

    let by_group = rules(&["allow group=finance"]);
    let in_ops = Req {
        groups: vec![OPS],
        ..req(ALICE, "GET", "/")
    };
    let in_both = Req {
        groups: vec![FINANCE, OPS],
        ..req(ALICE, "GET", "/")
    };
    assert!(!allowed(&by_group, &in_ops));
    assert!(allowed(&by_group, &in_both));

    let by_credential = rules(&["allow credential=deploy"]);
    let deploy = Req {
        client_id: "id-of-deploy",
        ..req(ALICE, "GET", "/")
    };
    assert!(allowed(&by_credential, &deploy));
    assert!(!allowed(&by_credential, &req(ALICE, "GET", "/")));

    // A scope is matched exactly: service:* is not service:payroll.
    let by_scope = rules(&["allow scope=service:payroll"]);
    assert!(allowed(&by_scope, &req(ALICE, "GET", "/")));
    let wildcard = Req {
        scopes: ScopeSet::all_services(),
        ..req(ALICE, "GET", "/")
    };
    assert!(!allowed(&by_scope, &wildcard));
    assert!(allowed(&rules(&["allow scope=service:*"]), &wildcard));

    let by_method = rules(&["allow methods=GET,HEAD"]);
    assert!(allowed(&by_method, &req(ALICE, "HEAD", "/")));
    assert!(!allowed(&by_method, &req(ALICE, "DELETE", "/")));

    // Conditions of one rule must all hold.
    let both = rules(&["allow user=ci methods=GET paths=/reports"]);
    assert!(allowed(&both, &req(CI, "GET", "/reports")));
    assert!(!allowed(&both, &req(ALICE, "GET", "/reports")));
    assert!(!allowed(&both, &req(CI, "PUT", "/reports")));
    assert!(!allowed(&both, &req(CI, "GET", "/other")));
}

#[test]
fn rfc9110_9_1_methods_are_exact_for_allow_rules_and_case_blind_for_deny_rules() {
    // An origin that upper-cases methods reads `delete` as DELETE: a deny must catch it, and an
    // allow must not admit `get` as GET (an origin may treat it as another method).
    let deny_delete = rules(&["deny methods=DELETE", "allow any"]);
    for m in ["DELETE", "delete", "Delete"] {
        assert_eq!(
            verdict(&deny_delete, &req(ALICE, m, "/")),
            Verdict::Denied(0),
            "{m}"
        );
    }
    let get_only = rules(&["allow methods=GET"]);
    assert!(allowed(&get_only, &req(ALICE, "GET", "/")));
    for m in ["get", "Get"] {
        assert_eq!(
            verdict(&get_only, &req(ALICE, m, "/")),
            Verdict::NoRuleMatched,
            "{m}"
        );
    }
}

#[test]
fn path_patterns_are_segment_prefixes_with_star_for_one_segment() {
    let table: &[(&str, &str, bool)] = &[
        ("/reports", "/reports", true),
        ("/reports", "/reports/", true),
        ("/reports", "/reports/2024/q1", true),
        ("/reports", "/reports-old", false),
        ("/reports", "/reportsx/a", false),
        ("/reports", "/", false),
        ("/reports/*", "/reports/q1", true),
        ("/reports/*", "/reports/q1/x", true),
        ("/reports/*", "/reports", false),
        ("/reports/*", "/reports/", false),
        ("/*/admin", "/v1/admin/users", true),
        ("/*/admin", "/admin", false),
        ("/", "/", true),
        ("/", "/anything/at/all", true),
        ("/", "", true),
        // Percent-escapes are compared decoded, in pattern and path alike.
        ("/reports", "/%72eports/q1", true),
        ("/a%20b", "/a b", true),
        ("/a%20b", "/a%20b/c", true),
    ];
    for &(pattern, path, want) in table {
        let p = PathPattern::parse(pattern).unwrap();
        assert_eq!(p.matches(path, false), want, "allow {pattern} vs {path}");
        assert_eq!(p.matches(path, true), want, "deny {pattern} vs {path}");
    }
}

#[test]
fn ambiguous_paths_meet_deny_rules_and_miss_allow_rules() {
    // (path, does `deny paths=/admin/*` hit it, does `allow paths=/admin/*` admit it)
    let table: &[(&str, bool, bool)] = &[
        ("/admin/x", true, true),
        // Encoded slash: one segment as sent, two where %2F is decoded (nginx, Apache).
        ("/admin%2Fx", true, false),
        ("/admin%2fx", true, false),
        // Empty segments: merged by nginx.
        ("//admin/x", true, false),
        ("/admin//x", true, false),
        // Path parameters: dropped by Tomcat and Jetty.
        ("/admin;jsessionid=1/x", true, false),
        ("/admin;/x", true, false),
        // Case: folded by IIS.
        ("/ADMIN/x", true, false),
        ("/Admin/x", true, false),
        // Plain escapes mean the same to everyone.
        ("/%61dmin/x", true, true),
        ("/%41DMIN/x", true, false),
        // Not admin at all.
        ("/administrator/x", false, false),
        ("/admin", false, false),
        ("/x/admin/y", false, false),
    ];
    let p = PathPattern::parse("/admin/*").unwrap();
    for &(path, denied, admitted) in table {
        assert_eq!(p.matches(path, true), denied, "deny vs {path}");
        assert_eq!(p.matches(path, false), admitted, "allow vs {path}");
    }
    // As a policy: the admin area stays closed however it is spelled.
    let policy = rules(&["deny paths=/admin", "allow any"]);
    for path in [
        "/admin",
        "//admin",
        "/ADMIN/",
        "/admin%2Fusers",
        "/admin;x",
        "/%61dmin",
    ] {
        assert_eq!(
            verdict(&policy, &req(ALICE, "GET", path)),
            Verdict::Denied(0),
            "{path}"
        );
    }
    // And an allow rule lets through only what every reading puts under /reports.
    let reports = rules(&["allow paths=/reports/*"]);
    assert!(allowed(&reports, &req(ALICE, "GET", "/reports/q1")));
    assert!(allowed(&reports, &req(ALICE, "GET", "/reports/a%2Fb")));
    for path in [
        "/reports%2Fq1",
        "//reports/q1",
        "/Reports/q1",
        "/reports;x/q1",
        "/reports//q1",
    ] {
        assert!(!allowed(&reports, &req(ALICE, "GET", path)), "{path}");
    }
}

#[test]
fn dot_segments_never_reach_the_policy_and_patterns_cannot_name_them() {
    // `/reports/../admin` is refused (400) before the policy runs: crate::path.
    for path in [
        "/reports/../admin",
        "/reports/%2e%2e/admin",
        "/reports/..;/admin",
    ] {
        assert!(crate::path::check_path(path).is_err(), "{path}");
    }
    for bad in [
        "reports",
        "/reports/",
        "//x",
        "/a*",
        "/**",
        "/a/../b",
        "/%2e%2e",
        "/a%2Fb",
        "/a%5Cb",
        "/a;b",
        "/a?b",
        "/a b",
        "/caf\u{e9}",
        "/bad%zz",
    ] {
        assert!(PathPattern::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn rules_parse_from_the_cli_form_and_print_back_the_same() {
    for text in [
        "allow group=finance",
        "allow user=ci methods=GET paths=/reports/*",
        "deny paths=/admin/*",
        "allow any",
        "deny credential=old,older scope=service:*",
        "allow methods=GET,HEAD paths=/a,/b/*",
    ] {
        let rule = parse_rule(text).unwrap();
        assert_eq!(rule.to_string(), text);
    }
    // Resolved, a rule is stored and shown with its ids, and read back the same.
    let resolved = &rules(&["allow user=alice,ci group=finance credential=deploy methods=GET"])[0];
    let stored = resolved.to_string();
    assert_eq!(
        stored,
        "allow user=alice#2,ci#5 group=finance#7 credential=deploy#id-of-deploy methods=GET"
    );
    assert_eq!(&parse_rule(&stored).unwrap(), resolved);
    assert!(parse_rule("allow user=alice#x").is_err());
    // Plural and singular keys alike; whitespace is free.
    assert_eq!(
        parse_rule("allow  groups=finance   method=GET")
            .unwrap()
            .to_string(),
        "allow group=finance methods=GET"
    );
    for bad in [
        "",
        "permit any",
        "allow",
        "allow group",
        "allow group=",
        "allow group=a,,b",
        "allow colour=red",
        "allow methods=get",
        "allow methods=GET methods=POST",
        "allow any user=ci",
        "allow scope=admin",
        "allow paths=reports",
    ] {
        assert!(parse_rule(bad).is_err(), "{bad:?}");
    }
}
