// The proxy boundary, as an attacker sends it and as the origin sees it (issue #10): nothing
// client-controlled reaches the origin as identity or forwarding data, a body goes exactly
// when the client sent one, the path stays under the upstream's base path (every other byte
// of path and query as sent), an origin's cookies stay host-only, and the admin API takes only
// unambiguous upstreams. Requests go over raw sockets wherever a client library would
// normalise them; what the origin received is read from the harness (gw.originRequests).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";
import { startGateway, decodeJwt, RUNTIME } from "./harness.mjs";

/**
 * Sends `request` (a string or Buffer, written as is) on a new connection and resolves the
 * first answer, read by its framing ({ status, headers (lower-case names; repeated ones as
 * arrays), body: Buffer }); `head: true` for the answer to a HEAD. Fails after `timeoutMs`: a
 * stall is a failure, not a wait.
 */
function raw(port, request, timeoutMs = 8000, { head = false } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms; got ${JSON.stringify(data.toString("latin1").slice(0, 300))}`));
    }, timeoutMs);
    const done = (value) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const parse = (closed) => {
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine, ...lines] = data.subarray(0, end).toString("latin1").split("\r\n");
      const headers = {};
      for (const line of lines) {
        const name = line.slice(0, line.indexOf(":")).trim().toLowerCase();
        const value = line.slice(line.indexOf(":") + 1).trim();
        headers[name] = name in headers ? [headers[name], value].flat() : value;
      }
      const status = Number(statusLine.split(" ")[1]);
      let rest = data.subarray(end + 4);
      // RFC 9110 §9.3.2: the answer to HEAD has no content, whatever its framing says.
      if (head) return done({ status, headers, body: Buffer.alloc(0) });
      if (headers["transfer-encoding"] === "chunked") {
        const chunks = [];
        for (;;) {
          const lineEnd = rest.indexOf("\r\n");
          if (lineEnd < 0) return;
          const size = parseInt(rest.subarray(0, lineEnd).toString("latin1"), 16);
          if (rest.length < lineEnd + 2 + size + 2) return;
          if (size === 0) return done({ status, headers, body: Buffer.concat(chunks) });
          chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
          rest = rest.subarray(lineEnd + 2 + size + 2);
        }
      }
      const length = headers["content-length"];
      if (length !== undefined && rest.length >= Number(length)) return done({ status, headers, body: rest.subarray(0, Number(length)) });
      if (length === undefined && (closed || status === 204 || status === 304)) return done({ status, headers, body: rest });
    };
    socket.on("data", (chunk) => {
      data = Buffer.concat([data, chunk]);
      parse(false);
    });
    socket.on("end", () => parse(true));
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.write(request);
  });
}

const json = (reply) => JSON.parse(reply.body.toString("utf8"));

describe(`the proxy boundary (${RUNTIME})`, () => {
  let gw, aliceToken, rootToken, cookieOrigin;

  /** A raw request to service `name`: the request line, the Host, `headers` as given, `body`. */
  const send = (name, target, { method = "GET", headers = [], body = "", token = rootToken } = {}) => {
    const lines = [`${method} ${target} HTTP/1.1`, `Host: ${gw.serviceHost(name)}`];
    if (token) lines.push(`Authorization: Bearer ${token}`);
    for (const [n, v] of headers) lines.push(`${n}: ${v}`);
    const request = Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), Buffer.from(body)]);
    return raw(gw.port, request, 8000, { head: method === "HEAD" });
  };

  /** What the origin received since `mark` (an index into gw.originRequests). */
  const seenSince = (mark) => gw.originRequests.slice(mark);

  before(async () => {
    gw = await startGateway();
    await gw.createUser("alice");
    await gw.createService("my-api");
    await gw.createService("based", { upstream: `${gw.originUrl}/base` });
    cookieOrigin = await startCookieOrigin();
    await gw.createService("cookies", { upstream: cookieOrigin.url });
    aliceToken = await gw.accessToken(await gw.createCredential("alice-cred", { user: "alice" }));
    rootToken = await gw.accessToken(await gw.createCredential("root-cred"));
  });
  after(async () => {
    await gw?.stop();
    await cookieOrigin?.close();
  });

  it("identity_headers_in_any_spelling_never_reach_the_origin_beside_the_verified_ones", async () => {
    const mark = gw.originRequests.length;
    const r = await send("my-api", "/identity", {
      token: aliceToken,
      headers: [
        ["X-Isogate_User", "root"],
        ["x-isogate-user", "root"],
        ["X_ISOGATE_SERVICE", "admin-api"],
        ["x_isogate_credential", "root-cred"],
        ["X-Isogate-Assertion", "forged"],
        ["x-isogate_scope", "service:*"],
      ],
    });
    assert.equal(r.status, 200, r.body.toString());
    const [seen] = seenSince(mark);
    assert.equal(seen.headers["x-isogate-user"], "alice", "the verified user, and only it");
    assert.equal(seen.headers["x-isogate-service"], "my-api");
    assert.equal(seen.headers["x-isogate-credential"], "alice-cred");
    // The gateway's signed assertion, never the client's.
    const { "x-isogate-assertion": assertion, ...plain } = seen.headers;
    assert.notEqual(assertion, "forged");
    assert.equal(decodeJwt(assertion).payload.sub, "alice");
    const lookalikes = Object.keys(seen.headers).filter((n) => n.replaceAll("_", "-").startsWith("x-isogate-") && n.includes("_"));
    assert.deepEqual(lookalikes, [], "no underscore spelling of an identity header");
    assert.ok(!JSON.stringify(plain).includes("root"), JSON.stringify(plain));
  });

  /** Every forwarding or client-address header a client may send, in two spellings. */
  const SPOOFED = [
    "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Prefix",
    "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Server", "X-Forwarded-Client-Cert", "Forwarded",
    "X-Real-IP", "True-Client-IP", "CF-Connecting-IPv6", "CF-IPCountry", "CF-Ray", "CF-Visitor", "CF-Worker",
    "Cf-Access-Jwt-Assertion", "CDN-Loop", "X-Client-IP", "X-Cluster-Client-IP", "Fastly-Client-IP",
    "Fly-Client-IP", "X-Original-Forwarded-For", "X-ProxyUser-Ip", "Client-IP", "X-Original-URL", "X-Rewrite-URL",
    "X-Pomerium-Jwt-Assertion", "X-Goog-Authenticated-User-Email", "Remote-User", "X-Forwarded-User",
  ];
  const spoofedHeaders = () => SPOOFED.flatMap((name) => [[name, "6.6.6.6"], [name.replaceAll("-", "_"), "6.6.6.6"]]);

  it("forwarding_and_client_ip_headers_are_replaced_or_stripped", async () => {
    const mark = gw.originRequests.length;
    const r = await send("my-api", "/forwarding", { headers: spoofedHeaders() });
    assert.equal(r.status, 200, r.body.toString());
    const [seen] = seenSince(mark);
    const h = seen.headers;
    // The gateway's own values: the peer address, the scheme and Host the client used.
    assert.equal(h["x-forwarded-for"], "127.0.0.1");
    assert.equal(h["x-forwarded-proto"], "http");
    assert.equal(h["x-forwarded-host"], gw.serviceHost("my-api"));
    assert.equal(h.forwarded, `for=127.0.0.1;proto=http;host="${gw.serviceHost("my-api")}"`);
    for (const name of SPOOFED.map((n) => n.toLowerCase())) {
      if (["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"].includes(name)) continue;
      // workerd's own fetch sets CF-Worker on every subrequest (its value, never the client's).
      if (name === "cf-worker" && RUNTIME === "workers") {
        assert.notEqual(h[name], "6.6.6.6");
        continue;
      }
      assert.equal(h[name], undefined, `${name} reached the origin`);
      assert.equal(h[name.replaceAll("-", "_")], undefined, `${name.replaceAll("-", "_")} reached the origin`);
    }
    assert.ok(!JSON.stringify(h).includes("6.6.6.6"), JSON.stringify(h));
  });

  it("a_client_sent_cf_connecting_ip_never_reaches_the_origin", async () => {
    const mark = gw.originRequests.length;
    const r = await send("my-api", "/cf", { headers: [["CF-Connecting-IP", "6.6.6.6"], ["cf_connecting_ip", "6.6.6.6"]] });
    assert.equal(r.status, 200, r.body.toString());
    const [seen] = seenSince(mark);
    assert.equal(seen.headers["cf-connecting-ip"], undefined);
    assert.equal(seen.headers.cf_connecting_ip, undefined);
    // Spin knows the peer itself. On Workers the address is workerd's CF-Connecting-IP, which
    // Cloudflare's edge always sets; the local runtime (Miniflare) keeps a client's instead of
    // overwriting it (README, "Forwarding"), so there the gateway reports what it was told.
    const expected = RUNTIME === "spin" ? "127.0.0.1" : "6.6.6.6";
    assert.equal(seen.headers["x-forwarded-for"], expected);
    assert.equal(seen.headers.forwarded, `for=${expected};proto=http;host="${gw.serviceHost("my-api")}"`);
  });

  // A body goes exactly when the client sent one, whatever the method; where the runtime's
  // HTTP client cannot send it (Fetch: no content with GET or HEAD; hyper under wasi:http: no
  // chunked content with them), the answer is 400, never the request without its body.
  const sendable = (method, framing) => !["GET", "HEAD"].includes(method) || (RUNTIME === "spin" && framing === "content-length");

  for (const method of ["GET", "HEAD", "DELETE"]) {
    for (const framing of ["content-length", "chunked"]) {
      it(`a_${method}_with_a_${framing}_body_reaches_the_origin_with_exactly_that_body_or_is_refused_400`, async () => {
        const mark = gw.originRequests.length;
        const headers = framing === "chunked" ? [["Transfer-Encoding", "chunked"]] : [["Content-Length", "5"]];
        const body = framing === "chunked" ? "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n" : "hello";
        const started = Date.now();
        const r = await send("my-api", `/body-${method}-${framing}`, { method, headers, body });
        const seen = seenSince(mark);
        if (!sendable(method, framing)) {
          assert.equal(r.status, 400, r.body.toString());
          if (method !== "HEAD") assert.equal(json(r).error, "invalid_request");
          assert.deepEqual(seen, [], "the origin saw nothing");
          return;
        }
        // An origin given a Content-Length without its body would wait for it: the gateway
        // would answer 504 after its upstream timeout instead of 200 at once.
        assert.equal(r.status, 200, r.body.toString());
        assert.ok(Date.now() - started < 1000, `answered after ${Date.now() - started} ms`);
        assert.equal(seen.length, 1);
        assert.equal(seen[0].method, method);
        assert.equal(seen[0].headers["content-length"], framing === "chunked" ? undefined : "5");
        if (method !== "HEAD") {
          assert.equal(json(r).body.length, 5, "the body arrived");
          assert.equal(json(r).body.sha256, crypto.createHash("sha256").update("hello").digest("hex"));
        }
      });
    }
  }

  it("a_body_on_a_kept_alive_connection_is_never_read_as_the_next_request", async () => {
    // A GET whose body the gateway dropped while keeping its Content-Length would make a pooled
    // origin connection read the next request's first bytes as that body: smuggling. Here the
    // "body" is itself a request; the origin must see it only as a body (or not at all).
    const mark = gw.originRequests.length;
    const smuggled = `GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`;
    const r = await send("my-api", "/carrier", { headers: [["Content-Length", String(smuggled.length)]], body: smuggled });
    assert.ok([200, 400].includes(r.status), `${r.status} ${r.body}`);
    const urls = seenSince(mark).map((s) => s.url);
    assert.ok(!urls.includes("/smuggled"), JSON.stringify(urls));
    assert.deepEqual(urls, r.status === 200 ? ["/carrier"] : []);
  });

  it("no_content_length_reaches_the_origin_without_its_body", async () => {
    const cases = [
      // (request headers, body) → the origin must see no Content-Length and no body, at once.
      [[["Content-Length", "0"]], ""],
      [[["Content_Length", "5"]], ""],
      [[["content_length", "5"], ["transfer_encoding", "chunked"]], ""],
    ];
    for (const [headers, body] of cases) {
      const mark = gw.originRequests.length;
      const started = Date.now();
      const r = await send("my-api", "/no-body", { headers, body });
      assert.equal(r.status, 200, `${JSON.stringify(headers)}: ${r.body}`);
      assert.ok(Date.now() - started < 3000, "answered at once, not after an upstream timeout");
      const [seen] = seenSince(mark);
      assert.equal(seen.headers["content-length"], undefined, JSON.stringify(headers));
      assert.equal(seen.headers["transfer-encoding"], undefined, JSON.stringify(headers));
      assert.ok(!Object.keys(seen.headers).some((n) => n.includes("_")), JSON.stringify(seen.headers));
      assert.equal(json(r).body.length, 0);
    }
  });

  it("a_malformed_content_length_is_400", async () => {
    const mark = gw.originRequests.length;
    const r = await raw(gw.port, `POST /x HTTP/1.1\r\nHost: ${gw.serviceHost("my-api")}\r\nAuthorization: Bearer ${rootToken}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`, 3000).catch((e) => e);
    // The runtime's HTTP parser refuses it before the gateway runs (workerd answers its own
    // 500, hyper a 400 or a closed connection), or the gateway does (400): never forwarded.
    assert.ok(r instanceof Error || r.status >= 400, `answered ${r.status}`);
    assert.deepEqual(seenSince(mark), []);
  });

  // [request target, the path workerd hands the worker instead (WHATWG URL resolves dot
  // segments, raw or %2e, and reads `\` as `/`), or null when it passes it as sent].
  const UNSAFE = [
    ["/../secret", "/secret"],
    ["/%2e%2e/secret", "/secret"],
    ["/a/%2E./b", "/b"],
    ["/a/.%2e/b", "/b"],
    ["/a\\b", "/a/b"],
    ["/a%5cb", null],
    ["/a%5C..%5Csecret", null],
    ["/a%2F..%2Fsecret", null],
    ["/a%2f%2e%2e%2fsecret", null],
    ["/..;/secret", null],
  ];

  for (const [target, resolved] of UNSAFE) {
    it(`unsafe_path_${target}_never_leaves_the_base_path`, async () => {
      for (const token of [rootToken, null]) {
        const mark = gw.originRequests.length;
        const r = await send("based", target, { token });
        const seen = seenSince(mark);
        if (RUNTIME === "workers" && resolved !== null) {
          // The raw form never reaches the worker: what the origin gets is the resolved path,
          // under the base path, byte for byte.
          if (token) {
            assert.equal(r.status, 200, r.body.toString());
            assert.deepEqual(seen.map((s) => s.url), [`/base${resolved}`]);
          } else {
            assert.equal(r.status, 401);
          }
          continue;
        }
        assert.equal(r.status, 400, `${target}: ${r.status} ${r.body}`);
        assert.equal(json(r).error, "invalid_request");
        assert.deepEqual(seen, [], `${target}: the origin saw ${JSON.stringify(seen.map((s) => s.url))}`);
      }
    });
  }

  it("odd_but_legal_paths_and_queries_arrive_byte_for_byte", async () => {
    for (const target of [
      "/odd;x=1/%FF/%00/~!$&'()*+,=:@//double?a=%2e%2e/../&b=%ff;c=@:/?&&",
      "/a%2e/%2ea/.../a%2Fb/%7e%7E/%C3%BC?",
      "/?",
      "//lead/trail/?q=%2F%2f&=&x",
      "/group%2Fproject/-/raw/v1.2.3/file.tar.gz?ref=main&path=a%2Fb",
    ]) {
      const mark = gw.originRequests.length;
      const r = await send("based", target);
      assert.equal(r.status, 200, `${target}: ${r.body}`);
      assert.deepEqual(seenSince(mark).map((s) => s.url), [`/base${target}`], target);
    }
  });

  it("set_cookie_domain_never_reaches_the_client", async () => {
    const r = await send("cookies", "/");
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual([r.headers["set-cookie"]].flat(), [
      "a=b; Path=/",
      "c=d; Secure; HttpOnly",
      "e=f; Path=/p; SameSite=Lax",
    ]);
  });

  it("admin_api_refuses_ambiguous_upstreams_with_400", async () => {
    for (const upstream of [
      `http://user:pw@127.0.0.1:1`,
      "http://127.0.0.1:1\\@evil.example",
      "http://127.0.0.1:1/base\\x",
      "http://127.0.0.1:1/?q=1",
      "http://127.0.0.1:1/#frag",
      "http://127.0.0.1:0",
      "http://127.0.0.1:65536",
      "http://127.0.0.1:port",
      "http://[::1",
      "http://[::g]:80",
      "http://[fe80::1%25eth0]",
      "http://127.0.0.1 /x",
      "http://127.0.0.1:1/a b",
      "http://127.1",
      "http://origin./",
      "http://127.0.0.1:1/a/../b",
    ]) {
      const r = await gw.admin("POST", "services", { name: "bad-upstream", upstream });
      assert.equal(r.status, 400, `${upstream}: ${r.status} ${r.text}`);
      assert.equal(r.json.error, "invalid_request", upstream);
      assert.match(r.json.error_description, /upstream/, upstream);
    }
    assert.equal((await gw.admin("GET", "services/bad-upstream")).status, 404);
    const ok = await gw.admin("POST", "services", { name: "good-upstream", upstream: "HTTP://[::1]:9/base/" });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.service.upstream, "http://[::1]:9/base");
  });
});

/** An origin that answers every request with three cookies, each with a Domain attribute. */
async function startCookieOrigin() {
  const server = http.createServer((req, res) => {
    res.setHeader("set-cookie", [
      "a=b; Domain=localhost; Path=/",
      "c=d; Secure; domain = .localhost; HttpOnly",
      "e=f; Path=/p; DOMAIN=evil.example; SameSite=Lax",
    ]);
    res.end("ok");
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}
