// An origin behind Isogate that believes only the signed identity assertion: every request
// must carry an `X-Isogate-Assertion` that `jose` verifies against the gateway's published
// keys (JWKS), with this deployment's issuer, this service's URL as audience and the
// assertion's own type (so an access token is refused). It answers 200 with the verified
// claims, or 401 with why it refused. The README's Node snippet is an excerpt of this file;
// tests/e2e/assertion.test.mjs runs it as the origin of a service, on both runtimes.
//
// Settings from the environment: ISOGATE_ISSUER (http://localhost:PORT), ISOGATE_AUDIENCE
// (the service's URL, http://my-api.localhost:PORT). Listens on 127.0.0.1, on PORT or any free
// port, and prints "listening on 127.0.0.1:PORT".
import http from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";

const ISSUER = process.env.ISOGATE_ISSUER; // https://<DOMAIN>
const AUDIENCE = process.env.ISOGATE_AUDIENCE; // this service: https://my-api.<DOMAIN>
// Fetched on first use, kept, and fetched again for a kid it does not know (key rotation).
const JWKS = createRemoteJWKSet(new URL(`${ISSUER}/.well-known/jwks.json`));

/** The verified claims of the request's assertion; throws if there is none or it is not valid. */
async function verifyAssertion(req) {
  const assertion = req.headers["x-isogate-assertion"];
  if (typeof assertion !== "string") throw new Error("no X-Isogate-Assertion header");
  const { payload } = await jwtVerify(assertion, JWKS, {
    typ: "isogate-assertion+jwt", // never an access token (typ at+jwt)
    algorithms: ["EdDSA"],
    issuer: ISSUER,
    audience: AUDIENCE,
    clockTolerance: 30, // seconds of clock skew, as the gateway allows
  });
  return payload; // sub (the user), client_id, credential, scope, jti (the access token's)
}

const server = http.createServer(async (req, res) => {
  let status = 200;
  let body;
  try {
    body = { claims: await verifyAssertion(req) };
  } catch (e) {
    status = 401;
    body = { error: e.message };
  }
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
