"""An origin behind Isogate that believes only the signed identity assertion.

Every request must carry an `X-Isogate-Assertion` that PyJWT verifies against the gateway's
published keys (JWKS, through PyJWKClient), with this deployment's issuer, this service's URL
as audience, EdDSA, and the assertion's own `typ` (so an access token is refused). Answers 200
with the verified claims, or 401 with why it refused. The README's Python snippet is an
excerpt of this file; tests/e2e/assertion.test.mjs runs it as the origin of a service, on both
runtimes.

Settings from the environment: ISOGATE_ISSUER (http://localhost:PORT), ISOGATE_AUDIENCE (the
service's URL, http://my-api.localhost:PORT). Listens on 127.0.0.1, on PORT or any free port,
and prints "listening on 127.0.0.1:PORT". Needs PyJWT and cryptography (requirements.txt).
"""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt  # PyJWT; EdDSA through the cryptography package

ISSUER = os.environ["ISOGATE_ISSUER"]  # https://<DOMAIN>
AUDIENCE = os.environ["ISOGATE_AUDIENCE"]  # this service: https://my-api.<DOMAIN>
# Caches the key set, and fetches it again for a kid it does not know (key rotation).
jwks = jwt.PyJWKClient(f"{ISSUER}/.well-known/jwks.json")


def verify_assertion(headers):
    """The verified claims of the request's assertion; raises jwt.InvalidTokenError if not valid."""
    values = headers.get_all("X-Isogate-Assertion") or []
    if len(values) != 1:
        raise jwt.InvalidTokenError("expected one X-Isogate-Assertion header")
    assertion = values[0]
    # The header is covered by the signature checked below; an access token is typ at+jwt.
    typ = jwt.get_unverified_header(assertion).get("typ")
    if typ != "isogate-assertion+jwt":
        raise jwt.InvalidTokenError(f"unexpected typ {typ!r}")
    key = jwks.get_signing_key_from_jwt(assertion)
    return jwt.decode(
        assertion,
        key.key,
        algorithms=["EdDSA"],
        audience=AUDIENCE,
        issuer=ISSUER,
        leeway=30,  # seconds of clock skew, as the gateway allows
        options={"require": ["iss", "aud", "sub", "exp", "iat"]},
    )  # sub (the user), client_id, credential, scope, jti (the access token's)


class Origin(BaseHTTPRequestHandler):
    def answer(self):
        try:
            status, body = 200, {"claims": verify_assertion(self.headers)}
        except jwt.PyJWTError as e:
            status, body = 401, {"error": str(e)}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = answer

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), Origin)
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
