// KV for plain `workerd serve`: workerd's KV binding speaks HTTP to a service (GET/PUT/DELETE
// /<key>, GET /?prefix= for list), which Miniflare implements over a Durable Object and blob
// files. This one keeps the namespace in the isolate's memory, which makes the peer's per-request
// KV read as cheap as it can be (production KV is a network read, cached per location): it
// favours the peer.
const store = new Map(); // key -> { value: ArrayBuffer, expiration?: seconds, metadata?: string }

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const now = Math.floor(Date.now() / 1000);
    const rawKey = url.pathname.slice(1);
    const key = url.searchParams.get("urlencoded") === "true" ? decodeURIComponent(rawKey) : rawKey;
    const live = (e) => e && (e.expiration === undefined || e.expiration > now);
    if (request.method === "GET" && key === "") {
      const prefix = url.searchParams.get("prefix") ?? "";
      const limit = Number(url.searchParams.get("key_count_limit") ?? 1000);
      const keys = [...store.entries()]
        .filter(([k, e]) => k.startsWith(prefix) && live(e))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .slice(0, limit)
        .map(([name, e]) => ({ name, expiration: e.expiration, metadata: e.metadata }));
      return Response.json({ keys, list_complete: true, cacheStatus: null });
    }
    if (request.method === "GET") {
      const e = store.get(key);
      if (!live(e)) return new Response("Not Found", { status: 404 });
      const headers = new Headers();
      if (e.expiration !== undefined) headers.set("CF-Expiration", String(e.expiration));
      if (e.metadata !== undefined) headers.set("CF-KV-Metadata", e.metadata);
      return new Response(e.value, { headers });
    }
    if (request.method === "PUT") {
      const ttl = url.searchParams.get("expiration_ttl");
      const exp = url.searchParams.get("expiration");
      const expiration = ttl ? now + Number(ttl) : exp ? Number(exp) : undefined;
      const metadata = request.headers.get("CF-KV-Metadata") ?? undefined;
      store.set(key, { value: await request.arrayBuffer(), expiration, metadata });
      return new Response();
    }
    if (request.method === "DELETE") {
      store.delete(key);
      return new Response();
    }
    return new Response("method not allowed", { status: 405 });
  },
};
