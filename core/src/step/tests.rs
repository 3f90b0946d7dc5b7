//! What a runtime does with a body the answer did not need.

use super::*;

#[test]
fn a_body_declared_within_the_drain_limit_is_drained() {
    let drain = Leftover::Drain {
        at_most: DRAIN_LIMIT_BYTES,
    };
    for declared in ["0", "1", "20480", "65536", " 9000 "] {
        assert_eq!(leftover_body(Some(declared)), drain, "{declared:?}");
    }
}

#[test]
fn a_body_of_unknown_length_is_drained_up_to_the_limit() {
    // Chunked, or no body at all: reading finds out, and stops at the limit.
    assert_eq!(
        leftover_body(None),
        Leftover::Drain {
            at_most: DRAIN_LIMIT_BYTES
        }
    );
}

#[test]
fn a_body_declared_over_the_drain_limit_is_never_started_on() {
    for declared in ["65537", "2000000", "99999999999999999999999"] {
        assert_eq!(
            leftover_body(Some(declared)),
            Leftover::Abandon,
            "{declared:?}"
        );
    }
    // A length the runtime let through but that is no length: not worth guessing about.
    for declared in ["", "1, 1", "-1", "abc"] {
        assert_eq!(
            leftover_body(Some(declared)),
            Leftover::Abandon,
            "{declared:?}"
        );
    }
}
