//! Spin adapter (in progress).
