// The Worker's main module (scripts/build-worker.sh bundles it with wasm-bindgen's output into
// workers/build/index.js): the request goes straight to the wasm's `fetch` export, with no
// Proxy or `async` wrapper in between (worker-build's shim added both on every request).
// A class rather than an object so that a wrapper can construct it with its own env
// (tests/e2e/harness.mjs counts D1 statements that way).
import { WorkerEntrypoint } from "cloudflare:workers";
import { fetch } from "./bindgen/index.js";

export default class Isogate extends WorkerEntrypoint {
  fetch(request) {
    return fetch(request, this.env, this.ctx);
  }
}
