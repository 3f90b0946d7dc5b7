// The baseline workers, in plain JavaScript, chosen by Host. Same origin, same runtime, same
// serving path as Isogate.
//
//   pass.*     `fetch(request)` to the origin and nothing else: the runtime's own floor.
//   rewrite.*  what any identity-aware proxy does besides checking the token, done in JS: a new
//              request without the credential and hop-by-hop headers and with identity headers
//              added, a timeout on the origin's answer, a new response without hop-by-hop
//              headers. The gap between pass and rewrite is the price of rewriting a request
//              in this runtime; the gap between rewrite and Isogate is Isogate's own.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "authorization", "x-octelium-auth"]);

async function rewrite(request, env) {
  const url = new URL(request.url);
  const headers = new Headers();
  for (const [name, value] of request.headers) if (!HOP_BY_HOP.has(name)) headers.append(name, value);
  headers.set("x-isogate-user", "root");
  headers.set("x-isogate-client-id", "bench-0000");
  headers.set("x-isogate-credential", "bench");
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 30_000);
  let upstream;
  try {
    upstream = await fetch(new Request(env.ORIGIN_URL + url.pathname + url.search, {
      method: request.method, headers, body: request.body, redirect: "manual", signal: controller.signal,
    }));
  } finally {
    clearTimeout(timer);
  }
  const out = new Headers();
  for (const [name, value] of upstream.headers) if (!HOP_BY_HOP.has(name)) out.append(name, value);
  return new Response(upstream.body, { status: upstream.status, headers: out });
}

export default {
  async fetch(request, env) {
    if (request.headers.get("host")?.startsWith("rewrite.")) return rewrite(request, env);
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};
