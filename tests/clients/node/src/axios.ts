// A workload using axios, unchanged, against Isogate: the client credentials grant as a
// form post (client_secret_post, then client_secret_basic), a service call with
// "Authorization: Bearer", and how axios reports a wrong secret (AxiosError, 401).
// Settings: ISOGATE_ISSUER (https://localhost:PORT), ISOGATE_SERVICE_URL
// (https://my-api.localhost:PORT), CLIENT_ID, CLIENT_SECRET.
import axios from "axios";
import { check, env, run, type Echo } from "./check.js";

const issuer = env("ISOGATE_ISSUER");
const serviceUrl = env("ISOGATE_SERVICE_URL");
const clientId = env("CLIENT_ID");
const clientSecret = env("CLIENT_SECRET");

interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}

run(async () => {
  // --- the canonical example (client_secret_post) ---
  const { data: token } = await axios.post<TokenResponse>(
    `${issuer}/oauth2/token`,
    new URLSearchParams({
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: clientSecret,
    }),
  );
  const { data } = await axios.get<Echo>(`${serviceUrl}/anything?lib=axios`, {
    headers: { Authorization: `Bearer ${token.access_token}` },
  });
  // --- end of the canonical example ---
  check(token.token_type === "Bearer" && token.expires_in === 3600 && token.scope === "service:*", "axios client_secret_post token");
  check(data.headers["x-isogate-user"] === "root" && data.headers["x-isogate-service"] === "my-api", "axios service call: origin sees the verified user");
  check(data.headers.authorization === undefined, "axios: origin never sees the token");

  // client_secret_basic: axios's `auth` option sends the Basic header.
  const { data: basic } = await axios.post<TokenResponse>(
    `${issuer}/oauth2/token`,
    new URLSearchParams({ grant_type: "client_credentials", scope: "service:my-api" }),
    { auth: { username: clientId, password: clientSecret } },
  );
  const second = await axios.get<Echo>(`${serviceUrl}/anything?lib=axios-basic`, {
    headers: { Authorization: `Bearer ${basic.access_token}` },
  });
  check(second.status === 200 && second.data.headers["x-isogate-scope"] === "service:my-api", "axios client_secret_basic token, narrowed scope, service call");

  // A wrong secret: axios rejects with an AxiosError carrying the RFC 6749 §5.2 body.
  try {
    await axios.post(
      `${issuer}/oauth2/token`,
      new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: "wrong" }),
    );
    check(false, "axios: wrong secret must fail");
  } catch (e) {
    check(
      axios.isAxiosError(e) && e.response?.status === 401 && e.response.data.error === "invalid_client",
      "axios reports invalid_client (AxiosError, 401)",
    );
    console.log(`   wrong secret -> ${(e as Error).message}: ${JSON.stringify(axios.isAxiosError(e) ? e.response?.data : undefined)}`);
  }
}, "all axios checks passed");
