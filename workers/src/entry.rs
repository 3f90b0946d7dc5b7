//! What the `worker` crate gave the adapter, without the crate: the `env` type, one console
//! call, and the recovery from a trap. The module's entry is `entry.js` (built by
//! scripts/build-worker.sh), which calls [`crate::fetch`] directly.
//!
//! The crate's own entry (worker-build's shim) wrapped every call to `fetch` in two Proxies and
//! an `async` function, and its exported classes (R2, containers, streams) stayed in the wasm,
//! though the gateway uses none of them.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The Worker's bindings: vars and secrets (strings) and `DB` (D1).
    #[wasm_bindgen(extends = js_sys::Object)]
    pub type Env;
}

impl Env {
    /// The var or secret `name`, when it is a string (a var may also be a JSON object: not a
    /// setting).
    pub fn string(&self, name: &str) -> Option<String> {
        js_sys::Reflect::get(self, &JsValue::from_str(name))
            .ok()?
            .as_string()
    }
}

/// One line on the console's error stream (Workers Logs, `wrangler tail`).
pub fn console_error(line: &str) {
    web_sys::console::error_1(&JsValue::from_str(line));
}

/// Run once per instance, before any request. A trap (a panic, which aborts; running out of
/// memory) leaves the instance unusable: wasm-bindgen's glue marks it terminated and calls this
/// abort handler, which asks for a fresh instance, so the next call into the module
/// instantiates it again (the module is compiled once; the isolate lives on). The request that
/// trapped ends in the runtime's own 500. A panic's message is logged first: it is the only
/// trace the trap leaves.
#[wasm_bindgen(start)]
fn start() {
    wasm_bindgen::handler::set_on_abort(wasm_bindgen::handler::schedule_reinit);
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!("isogate: Rust panic: {info}"));
    }));
}
