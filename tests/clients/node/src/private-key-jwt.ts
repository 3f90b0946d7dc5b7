// A workload using openid-client (v6), unchanged, authenticating with private_key_jwt (RFC 7523)
// against Isogate: no secret exists, the client signs an assertion with its own key (EdDSA,
// ES256 or RS256; the library picks the algorithm from the key). Discovery from the RFC 8414
// metadata, the client credentials grant, a service call, and how the library reports an
// assertion signed with a key Isogate does not know.
// Settings: ISOGATE_ISSUER, ISOGATE_SERVICE_URL, CLIENTS: JSON [{alg, client_id, kid, key_file}]
// (key_file: the client's private key, PKCS #8 PEM).
import * as client from "openid-client";
import { createPrivateKey, generateKeyPairSync, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { check, env, run, type Echo } from "./check.js";

const issuer = env("ISOGATE_ISSUER");
const serviceUrl = env("ISOGATE_SERVICE_URL");
const clients = JSON.parse(env("CLIENTS")) as { alg: string; client_id: string; kid: string; key_file: string }[];
// The Spin test host serves plain HTTP; openid-client refuses it unless told.
const insecure = issuer.startsWith("http:") ? { execute: [client.allowInsecureRequests] } : {};

const IMPORT: Record<string, RsaHashedImportParams | EcKeyImportParams | Algorithm> = {
  EdDSA: { name: "Ed25519" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
};

/** A PKCS #8 PEM as the non-extractable CryptoKey openid-client signs with. */
async function signingKey(pem: string, alg: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ type: "pkcs8", format: "der" });
  return webcrypto.subtle.importKey("pkcs8", der, IMPORT[alg], false, ["sign"]) as Promise<CryptoKey>;
}

run(async () => {
  for (const c of clients) {
    const key = await signingKey(readFileSync(c.key_file, "utf8"), c.alg);
    // --- the canonical example ---
    const config = await client.discovery(new URL(issuer), c.client_id, undefined, client.PrivateKeyJwt({ key, kid: c.kid }), {
      algorithm: "oauth2",
      ...insecure,
    });
    const token = await client.clientCredentialsGrant(config, { scope: "service:my-api" });
    const response = await client.fetchProtectedResource(config, token.access_token, new URL(`${serviceUrl}/anything?lib=openid-client-pkjwt`), "GET");
    // --- end of the canonical example ---
    const methods = config.serverMetadata().token_endpoint_auth_methods_supported ?? [];
    check(methods.includes("private_key_jwt"), `openid-client ${c.alg}: discovery advertises private_key_jwt`);
    check(token.token_type === "bearer" && token.expires_in === 3600, `openid-client ${c.alg}: clientCredentialsGrant with PrivateKeyJwt`);
    const echo = (await response.json()) as Echo;
    check(response.status === 200 && echo.headers["x-isogate-client-id"] === c.client_id && echo.headers.authorization === undefined,
      `openid-client ${c.alg}: fetchProtectedResource (${response.status})`);

    // The same client id and kid, another key: invalid_client (RFC 7521 §4.2.1), reported with
    // the 401's challenge first, as for a wrong secret.
    const other = c.alg === "EdDSA" ? generateKeyPairSync("ed25519")
      : c.alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : generateKeyPairSync("rsa", { modulusLength: 2048 });
    const thief = await signingKey(other.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), c.alg);
    const bad = await client.discovery(new URL(issuer), c.client_id, undefined, client.PrivateKeyJwt({ key: thief, kid: c.kid }), {
      algorithm: "oauth2",
      ...insecure,
    });
    try {
      await client.clientCredentialsGrant(bad);
      check(false, `openid-client ${c.alg}: another key must fail`);
    } catch (e) {
      const body = e instanceof client.WWWAuthenticateChallengeError ? ((await e.response.json()) as { error?: string }) : {};
      check(e instanceof client.WWWAuthenticateChallengeError && e.status === 401 && body.error === "invalid_client",
        `openid-client ${c.alg}: another key is invalid_client (${(e as Error).name})`);
    }
  }
}, "all openid-client private_key_jwt checks passed");
