//! Unit tests of the forward's record: the relay with the request id and the finished line, a
//! replaced answer, a refused forward, and the record carried through a string.

use super::super::tests::{context, parse, seen, T0};
use super::*;
use crate::forward::UpstreamFailure;
use crate::testing::head;

fn forward_record(level: AuditLevel) -> ForwardRecord {
    let head = head(
        "POST",
        "my-api.example.com",
        "/items",
        Some("token=secret"),
        &[("authorization", "Bearer secret-token")],
    );
    context(level, &head).forward(head, "my-api".into(), seen())
}

#[test]
fn a_relayed_answer_carries_the_request_id_and_finishes_the_line() {
    let origin = [
        ("x-request-id".to_owned(), "the-origin-s-own".to_owned()),
        ("content-type".to_owned(), "text/plain".to_owned()),
    ];
    let outcome = UpstreamOutcome::Responded {
        status: 201,
        headers: &origin,
    };
    let (decision, line) =
        forward_record(AuditLevel::All).relay(outcome, Now::from_unix_ms(T0.unix_ms() + 42));
    let Relay::Pass { headers, .. } = decision else {
        panic!("relayed")
    };
    let ids: Vec<_> = headers
        .iter()
        .filter(|(n, _)| n == "x-request-id")
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].1, "CQkJCQkJCQkJCQkJCQkJCQ");
    let line = line.expect("a line");
    assert!(!line.as_str().contains("secret"), "{line}");
    let v = parse(&line);
    assert_eq!(
        (
            &v["outcome"],
            &v["status"],
            &v["origin_status"],
            &v["duration_ms"]
        ),
        (&"forwarded".into(), &201.into(), &201.into(), &42.into())
    );
    assert_eq!(
        (&v["method"], &v["path"]),
        (&"POST".into(), &"/items".into())
    );
    assert_eq!((&v["user"], &v["jti"]), (&"alice".into(), &"jti-1".into()));
    assert!(v.get("reason").is_none());
}

#[test]
fn a_replaced_answer_says_why_and_has_no_origin_status() {
    for (outcome, status, reason) in [
        (UpstreamOutcome::TimedOut, 504, "upstream_timeout"),
        (
            UpstreamOutcome::Failed(UpstreamFailure::Unreachable("refused".into())),
            502,
            "upstream_unreachable",
        ),
    ] {
        let (decision, line) = forward_record(AuditLevel::All).relay(outcome, T0);
        let Relay::Replace { response, .. } = decision else {
            panic!("replaced")
        };
        assert_eq!(response.status, status);
        assert_eq!(
            response.header("x-request-id"),
            Some("CQkJCQkJCQkJCQkJCQkJCQ")
        );
        let v = parse(&line.unwrap());
        assert_eq!(
            (&v["status"], &v["reason"]),
            (&status.into(), &reason.into())
        );
        assert!(v.get("origin_status").is_none());
    }
}

#[test]
fn a_carried_record_finishes_as_the_kept_one_would() {
    let origin = [];
    let outcome = || UpstreamOutcome::Responded {
        status: 200,
        headers: &origin,
    };
    let now = Now::from_unix_ms(T0.unix_ms() + 3);
    let kept = forward_record(AuditLevel::All).relay(outcome(), now);
    let carried = ForwardRecord::uncarry(&forward_record(AuditLevel::All).carry());
    assert_eq!(carried.method(), &crate::http::Method::Post);
    assert_eq!(carried.relay(outcome(), now), kept);
    // Levels that keep no forward carry no line, and still the request id.
    for level in [AuditLevel::Denials, AuditLevel::Off] {
        let carried = ForwardRecord::uncarry(&forward_record(level).carry());
        assert_eq!(carried.request_id(), "CQkJCQkJCQkJCQkJCQkJCQ");
        let (decision, line) = carried.relay(outcome(), now);
        assert_eq!(line, None);
        assert_eq!(decision, kept.0, "the same answer");
    }
}

#[test]
fn a_forward_the_runtime_cannot_send_is_a_denial_at_every_level_that_keeps_denials() {
    for (level, logged) in [
        (AuditLevel::All, true),
        (AuditLevel::Denials, true),
        (AuditLevel::Off, false),
    ] {
        let refusal = crate::http::Response::new(400);
        let (response, record) = forward_record(level).refuse(refusal, Reason::Malformed);
        assert!(response.header("x-request-id").is_some());
        let line = record.finish(T0);
        assert_eq!(line.is_some(), logged, "{level:?}");
        if let Some(line) = line {
            let v = parse(&line);
            assert_eq!(
                (&v["outcome"], &v["reason"], &v["status"]),
                (&"denied".into(), &"malformed".into(), &400.into())
            );
        }
    }
}
