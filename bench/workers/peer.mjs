// The peer: @cloudflare/workers-oauth-provider protecting a trivial API (a pass-through to the
// same origin as Isogate's service), in the same runtime. Its bearer validation is what is
// compared with Isogate's: SHA-256 of the token, one KV read of the token record, unwrapping
// the props key, decrypting the props. Bundled by bench/loopback.mjs with esbuild.
//
// Bench-only routes under the default handler: POST /bench/client creates a confidential
// client; /authorize approves every request for user "bench" (no sign-in page).
import { OAuthProvider } from "@cloudflare/workers-oauth-provider";

const apiHandler = {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};

const defaultHandler = {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/bench/client" && request.method === "POST") {
      const client = await env.OAUTH_PROVIDER.createClient({
        redirectUris: ["http://localhost/callback"],
        clientName: "isogate-bench",
        tokenEndpointAuthMethod: "client_secret_post",
      });
      return Response.json(client);
    }
    if (url.pathname === "/authorize") {
      const authRequest = await env.OAUTH_PROVIDER.parseAuthRequest(request);
      const { redirectTo } = await env.OAUTH_PROVIDER.completeAuthorization({
        request: authRequest,
        userId: "bench",
        metadata: {},
        scope: authRequest.scope,
        props: { user: "bench" },
      });
      return Response.redirect(redirectTo, 302);
    }
    return new Response("not found", { status: 404 });
  },
};

let provider;

export default {
  fetch(request, env, ctx) {
    // Built on first use: the resource URL comes from the bindings.
    provider ??= new OAuthProvider({
      apiRoute: "/api/",
      apiHandler,
      defaultHandler,
      authorizeEndpoint: "/authorize",
      tokenEndpoint: "/oauth/token",
      scopesSupported: ["read"],
      resourceMetadata: { resource: env.PEER_RESOURCE, authorization_servers: [env.PEER_ISSUER] },
    });
    return provider.fetch(request, env, ctx);
  },
};
