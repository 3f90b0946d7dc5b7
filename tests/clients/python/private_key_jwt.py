"""A workload using authlib's private_key_jwt (RFC 7523), unchanged but for the assertion's
lifetime, against Isogate: no secret exists, the client signs an assertion with its own key.

authlib signs assertions valid for an hour; Isogate accepts at most five minutes, so the
client gives each assertion a 60-second exp. (authlib's `claims=` is one dict for every
request, and authlib writes the jti into it: a fixed `claims` sends the same jti every time,
which Isogate refuses as a replay. The check below shows it.)

Settings come from the environment: ISOGATE_ISSUER (http://localhost:PORT),
ISOGATE_SERVICE_URL, CLIENTS: JSON [{alg, client_id, kid, key_file}] (key_file: the private
key, PKCS #8 PEM). Exits non-zero on any failed check.
"""
import json
import os
import socket
import sys
import time

import requests
from authlib.integrations.base_client.errors import OAuthError

# --- the canonical example ---
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import import_key


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """private_key_jwt whose assertions expire after 60 s (Isogate: at most 5 minutes)."""

    def sign(self, auth, token_endpoint):
        self.claims = {"exp": int(time.time()) + 60}  # a fresh dict: a fresh jti each time
        return super().sign(auth, token_endpoint)


KEY_TYPES = {"EdDSA": "OKP", "ES256": "EC", "RS256": "RSA"}


def token_session(client_id, key_pem, kid, alg, token_url):
    session = OAuth2Session(
        client_id,
        import_key(key_pem, KEY_TYPES[alg]),  # the private key: Ed25519, EC P-256 or RSA
        token_endpoint_auth_method=ShortLivedPrivateKeyJWT(token_url, headers={"kid": kid}, alg=alg),
    )
    session.fetch_token(token_url, grant_type="client_credentials")
    return session
# --- end of the canonical example ---


_getaddrinfo = socket.getaddrinfo


def _localhost_getaddrinfo(host, *args, **kwargs):
    # RFC 6761 §6.3: names under .localhost are loopback (glibc does not do it).
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _localhost_getaddrinfo

TIMEOUT = 15
_session_request = requests.Session.request


def _request_with_timeout(self, method, url, **kwargs):
    if kwargs.get("timeout") is None:
        kwargs["timeout"] = TIMEOUT
    return _session_request(self, method, url, **kwargs)


requests.Session.request = _request_with_timeout

ISSUER = os.environ["ISOGATE_ISSUER"]
SERVICE_URL = os.environ["ISOGATE_SERVICE_URL"]
CLIENTS = json.loads(os.environ["CLIENTS"])
TOKEN_URL = f"{ISSUER}/oauth2/token"


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def refused(session_factory, what):
    try:
        session_factory()
    except OAuthError as e:
        check(e.error == "invalid_client", f"{what}: invalid_client ({e.error})")
        return
    check(False, f"{what} must fail")


for c in CLIENTS:
    with open(c["key_file"]) as f:
        pem = f.read()
    session = token_session(c["client_id"], pem, c["kid"], c["alg"], TOKEN_URL)
    check(session.token["token_type"] == "Bearer", f"authlib PrivateKeyJWT {c['alg']}: token")
    r = session.get(f"{SERVICE_URL}/anything?lib=authlib-pkjwt")
    echo = r.json()
    check(
        r.status_code == 200 and echo["headers"].get("x-isogate-client-id") == c["client_id"],
        f"authlib PrivateKeyJWT {c['alg']}: service call ({r.status_code})",
    )

# authlib's own default: one claims dict, so the second request replays the first's jti.
c = CLIENTS[0]
with open(c["key_file"]) as f:
    pem = f.read()
fixed = PrivateKeyJWT(TOKEN_URL, claims={"exp": int(time.time()) + 60}, headers={"kid": c["kid"]}, alg=c["alg"])
key = import_key(pem, KEY_TYPES[c["alg"]])
session = OAuth2Session(c["client_id"], key, token_endpoint_auth_method=fixed)
session.fetch_token(TOKEN_URL, grant_type="client_credentials")
check(True, "authlib PrivateKeyJWT with fixed claims: the first request")
refused(lambda: session.fetch_token(TOKEN_URL, grant_type="client_credentials"), "the same jti again (a replay)")

# authlib's default lifetime (an hour) is over Isogate's five minutes.
hourly = PrivateKeyJWT(TOKEN_URL, headers={"kid": c["kid"]}, alg=c["alg"])
hour = OAuth2Session(c["client_id"], key, token_endpoint_auth_method=hourly)
refused(lambda: hour.fetch_token(TOKEN_URL, grant_type="client_credentials"), "an assertion valid for an hour")

print("all python private_key_jwt checks passed")
