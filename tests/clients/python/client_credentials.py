"""A workload using a standard Python OAuth2 library, unchanged, against Isogate.

requests-oauthlib: BackendApplicationClient + OAuth2Session.fetch_token (client credentials,
client_secret_basic by default), then a service call with the token attached by the session.
authlib: the same with client_secret_basic and client_secret_post.
Each also shows how the library reports a wrong secret.

Settings come from the environment: ISOGATE_ISSUER (http://localhost:PORT), ISOGATE_SERVICE_URL,
CLIENT_ID, CLIENT_SECRET. Exits non-zero on any failed check.
"""
import os
import socket
import sys

# RFC 6761 §6.3: names under .localhost resolve to loopback. curl and browsers do this
# themselves; glibc's resolver does not, so give Python the same behaviour for the test.
_getaddrinfo = socket.getaddrinfo


def _localhost_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _localhost_getaddrinfo

import requests  # noqa: E402

# Every HTTP call is bounded (seconds), so a gateway that stops answering fails a check instead
# of hanging the run. requests has no session-wide timeout and both libraries' sessions are
# requests.Session subclasses: give every request without one this default. (Done here, not
# per call, so the calls stay as the README shows them.)
TIMEOUT = 15
_session_request = requests.Session.request


def _request_with_timeout(self, method, url, **kwargs):
    if kwargs.get("timeout") is None:
        kwargs["timeout"] = TIMEOUT
    return _session_request(self, method, url, **kwargs)


requests.Session.request = _request_with_timeout
# oauthlib refuses plain http unless told; the local gateway is http://localhost.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.integrations.requests_client import OAuth2Session as AuthlibSession  # noqa: E402
from oauthlib.oauth2 import BackendApplicationClient  # noqa: E402
from oauthlib.oauth2.rfc6749.errors import InvalidClientError  # noqa: E402
from requests_oauthlib import OAuth2Session  # noqa: E402
from authlib.integrations.base_client.errors import OAuthError  # noqa: E402

ISSUER = os.environ["ISOGATE_ISSUER"]
SERVICE_URL = os.environ["ISOGATE_SERVICE_URL"]
CLIENT_ID = os.environ["CLIENT_ID"]
CLIENT_SECRET = os.environ["CLIENT_SECRET"]
TOKEN_URL = f"{ISSUER}/oauth2/token"


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def requests_oauthlib_flow():
    session = OAuth2Session(client=BackendApplicationClient(client_id=CLIENT_ID))
    token = session.fetch_token(token_url=TOKEN_URL, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    check(token["token_type"] == "Bearer" and token["expires_in"] == 3600, "requests-oauthlib fetch_token")
    resp = session.get(f"{SERVICE_URL}/anything?lib=requests-oauthlib")
    check(resp.status_code == 200, f"requests-oauthlib service call ({resp.status_code})")
    check(resp.json()["headers"]["x-isogate-user"] == "root", "origin sees the verified user")
    check("authorization" not in resp.json()["headers"], "origin never sees the token")

    bad = OAuth2Session(client=BackendApplicationClient(client_id=CLIENT_ID))
    try:
        bad.fetch_token(token_url=TOKEN_URL, client_id=CLIENT_ID, client_secret="wrong")
        check(False, "requests-oauthlib: wrong secret must fail")
    except InvalidClientError as e:
        check(e.error == "invalid_client" and e.status_code == 401, "requests-oauthlib reports invalid_client")


def authlib_flow(method):
    session = AuthlibSession(CLIENT_ID, CLIENT_SECRET, token_endpoint_auth_method=method, scope="service:my-api")
    token = session.fetch_token(TOKEN_URL, grant_type="client_credentials")
    check(token["access_token"].count(".") == 2, f"authlib {method} fetch_token")
    resp = session.get(f"{SERVICE_URL}/anything?lib=authlib")
    check(resp.status_code == 200, f"authlib {method} service call ({resp.status_code})")

    bad = AuthlibSession(CLIENT_ID, "wrong", token_endpoint_auth_method=method)
    try:
        bad.fetch_token(TOKEN_URL, grant_type="client_credentials")
        check(False, f"authlib {method}: wrong secret must fail")
    except OAuthError as e:
        check(e.error == "invalid_client", f"authlib {method} reports invalid_client")


if __name__ == "__main__":
    requests_oauthlib_flow()
    authlib_flow("client_secret_basic")
    authlib_flow("client_secret_post")
    print("all python client checks passed")
