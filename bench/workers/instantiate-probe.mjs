// Timings taken inside workerd (its clock advances during execution when run locally; its
// resolution is coarse, hence the loops and means):
//   /instantiate?n=   `new WebAssembly.Instance` of Isogate's already compiled wasm module with
//                     stub imports, mean ms. The generated index.js does the same at module
//                     load with the real imports, then calls `__wbindgen_start` (not included).
//                     workerd compiles the module when it loads the worker; that cost shows in
//                     the cold start figures instead.
//   /ed25519?n=       Web Crypto Ed25519 verify (the runtime's native code) of a token-sized
//                     message, mean ms: what a signature check costs outside wasm, for
//                     comparison with Isogate's in-wasm check.
import wasm from "./index_bg.wasm";

const stubs = {};
for (const i of WebAssembly.Module.imports(wasm)) {
  (stubs[i.module] ??= {})[i.name] = i.kind === "function" ? () => {} : i.kind === "tag" ? new WebAssembly.Tag({ parameters: ["externref"] }) : undefined;
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n") ?? 100);
    if (url.pathname === "/ed25519") {
      const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
      const message = new TextEncoder().encode("x".repeat(330)); // an access token's signing input
      const signature = await crypto.subtle.sign({ name: "Ed25519" }, privateKey, message);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        if (!(await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, message))) throw new Error("verify failed");
      }
      return Response.json({ n, verify_ms: (performance.now() - t0) / n });
    }
    const t0 = performance.now();
    for (let i = 0; i < n; i++) new WebAssembly.Instance(wasm, stubs);
    return Response.json({ n, instantiate_ms: (performance.now() - t0) / n });
  },
};
