//! Workers adapter (in progress).
