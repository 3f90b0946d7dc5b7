// A resource server (or a curious workload) verifying Isogate's access tokens with jose:
// the JWKS published at the RFC 8414 metadata's jwks_uri, createRemoteJWKSet + jwtVerify
// with the issuer, audience = the issuer, and typ "at+jwt" (RFC 9068); and how jose reports
// a token that is not Isogate's (tampered signature, wrong audience).
// Settings: ISOGATE_ISSUER (https://localhost:PORT), CLIENT_ID, CLIENT_SECRET.
import { createRemoteJWKSet, jwtVerify, errors } from "jose";
import { check, env, run } from "./check.js";

const issuer = env("ISOGATE_ISSUER");
const clientId = env("CLIENT_ID");
const clientSecret = env("CLIENT_SECRET");

run(async () => {
  const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as { jwks_uri: string };
  check(metadata.jwks_uri === `${issuer}/oauth2/jwks`, "jose: jwks_uri from the RFC 8414 metadata");
  const tokenResponse = await fetch(`${issuer}/oauth2/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }),
  });
  const { access_token: accessToken } = (await tokenResponse.json()) as { access_token: string };

  // --- the canonical example ---
  const JWKS = createRemoteJWKSet(new URL(metadata.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(accessToken, JWKS, {
    issuer,
    audience: issuer,
    typ: "at+jwt",
  });
  // --- end of the canonical example ---
  check(protectedHeader.alg === "EdDSA" && typeof protectedHeader.kid === "string", "jose: jwtVerify (EdDSA, kid from the JWKS)");
  check(payload.sub === "root" && payload.client_id === clientId && payload.scope === "service:*" && typeof payload.jti === "string",
    "jose: RFC 9068 claims (sub, client_id, scope, jti)");

  // Failures, the way jose reports them.
  const [h, p, s] = accessToken.split(".");
  const tampered = `${h}.${p}.${s.startsWith("A") ? "B" : "A"}${s.slice(1)}`;
  await jwtVerify(tampered, JWKS, { issuer, audience: issuer, typ: "at+jwt" }).then(
    () => check(false, "jose: tampered token must fail"),
    (e) => check(e instanceof errors.JWSSignatureVerificationFailed, `jose reports a tampered token (${(e as errors.JOSEError).code})`),
  );
  await jwtVerify(accessToken, JWKS, { issuer, audience: "https://somewhere-else.example", typ: "at+jwt" }).then(
    () => check(false, "jose: wrong audience must fail"),
    (e) => check(e instanceof errors.JWTClaimValidationFailed && e.claim === "aud", `jose reports a wrong audience (${(e as errors.JOSEError).code})`),
  );
}, "all jose checks passed");
