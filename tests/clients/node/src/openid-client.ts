// A workload using openid-client (v6), unchanged, against Isogate: discovery from the RFC 8414
// metadata (/.well-known/oauth-authorization-server), the client credentials grant with
// client_secret_post (the library's default) and client_secret_basic, a service call with
// fetchProtectedResource, and how the library reports a wrong secret.
// Settings: ISOGATE_ISSUER (https://localhost:PORT), ISOGATE_SERVICE_URL, CLIENT_ID, CLIENT_SECRET.
import * as client from "openid-client";
import { check, env, run, type Echo } from "./check.js";

const issuer = env("ISOGATE_ISSUER");
const serviceUrl = env("ISOGATE_SERVICE_URL");
const clientId = env("CLIENT_ID");
const clientSecret = env("CLIENT_SECRET");

run(async () => {
  for (const [name, clientAuth] of [
    ["client_secret_post", client.ClientSecretPost], // the library's default
    ["client_secret_basic", client.ClientSecretBasic],
  ] as const) {
    // --- the canonical example ---
    const config = await client.discovery(new URL(issuer), clientId, undefined, clientAuth(clientSecret), {
      algorithm: "oauth2",
    });
    const token = await client.clientCredentialsGrant(config, { scope: "service:my-api" });
    const response = await client.fetchProtectedResource(
      config,
      token.access_token,
      new URL(`${serviceUrl}/anything?lib=openid-client`),
      "GET",
    );
    // --- end of the canonical example ---
    check(config.serverMetadata().token_endpoint === `${issuer}/oauth2/token`, `openid-client ${name}: discovery (RFC 8414)`);
    check(token.token_type === "bearer" && token.expires_in === 3600 && token.expiresIn()! > 3590, `openid-client ${name}: clientCredentialsGrant`);
    const echo = (await response.json()) as Echo;
    check(response.status === 200 && echo.headers["x-isogate-user"] === "root" && echo.headers.authorization === undefined,
      `openid-client ${name}: fetchProtectedResource (${response.status})`);

    // A wrong secret. The 401 carries a challenge (WWW-Authenticate: Basic realm="isogate":
    // RFC 9110 §15.5.2 wants one on every 401, RFC 6749 §5.2 for Basic in particular), whatever
    // the method, and the library reports any challenge first, as a
    // WWWAuthenticateChallengeError whose response body (the §5.2 JSON) is unread.
    const bad = await client.discovery(new URL(issuer), clientId, undefined, clientAuth("wrong"), { algorithm: "oauth2" });
    try {
      await client.clientCredentialsGrant(bad);
      check(false, `openid-client ${name}: wrong secret must fail`);
    } catch (e) {
      console.log(`   (${name}) wrong secret -> ${(e as Error).name}: ${(e as Error).message} ${JSON.stringify((e as Error).cause)}`);
      if (e instanceof client.WWWAuthenticateChallengeError) {
        const body = (await e.response.json()) as { error?: string };
        check(e.status === 401 && e.cause[0]?.scheme === "basic" && body.error === "invalid_client",
          `openid-client ${name} reports the Basic challenge (WWWAuthenticateChallengeError, 401, body invalid_client)`);
      } else {
        check(false, `openid-client ${name}: unexpected error ${String(e)}`);
      }
    }
  }
}, "all openid-client checks passed");
