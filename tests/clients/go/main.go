// A workload using golang.org/x/oauth2/clientcredentials, unchanged, against Isogate:
// config.Token(ctx), then config.Client(ctx).Get(...) (the client attaches
// "Authorization: Bearer" and renews the token when it expires), with each AuthStyle the
// library has (auto-detect, header = client_secret_basic, params = client_secret_post), and
// how the library reports a wrong secret (*oauth2.RetrieveError).
//
// Settings from the environment: ISOGATE_ISSUER (https://localhost:PORT),
// ISOGATE_SERVICE_URL (https://my-api.localhost:PORT), CLIENT_ID, CLIENT_SECRET, and
// optionally ISOGATE_CA_CERT (PEM of a CA to trust, for the local HTTPS gateway).
// Prints one "ok: ..." line per passed check; exits non-zero on the first failed one.
//
// Built in GOPATH mode against Debian's golang-golang-x-oauth2-dev (see ../install.sh):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o isogate-client-go .
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func check(cond bool, what string) {
	if !cond {
		fmt.Fprintf(os.Stderr, "FAIL: %s\n", what)
		os.Exit(1)
	}
	fmt.Printf("ok: %s\n", what)
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %s: %v\n", what, err)
		os.Exit(1)
	}
}

// localHTTPClient is test-only plumbing, the http.Client the library is given through the
// context: it trusts the throwaway CA of the local HTTPS gateway and resolves *.localhost to
// loopback (RFC 6761; curl and browsers do that themselves, Go's resolver does not).
func localHTTPClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if path := os.Getenv("ISOGATE_CA_CERT"); path != "" {
		pem, err := os.ReadFile(path)
		must(err, "read ISOGATE_CA_CERT")
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			must(errors.New("no certificate in PEM"), "ISOGATE_CA_CERT")
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil && strings.HasSuffix(host, ".localhost") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}
}

type echo struct {
	Headers map[string]string `json:"headers"`
}

func main() {
	issuer := os.Getenv("ISOGATE_ISSUER")
	serviceURL := os.Getenv("ISOGATE_SERVICE_URL")
	clientID, clientSecret := os.Getenv("CLIENT_ID"), os.Getenv("CLIENT_SECRET")
	if issuer == "" || serviceURL == "" || clientID == "" || clientSecret == "" {
		fmt.Fprintln(os.Stderr, "set ISOGATE_ISSUER, ISOGATE_SERVICE_URL, CLIENT_ID, CLIENT_SECRET")
		os.Exit(2)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, localHTTPClient())

	styles := []struct {
		authStyle oauth2.AuthStyle
		name      string
	}{
		{oauth2.AuthStyleAutoDetect, "AuthStyleAutoDetect"},
		{oauth2.AuthStyleInHeader, "AuthStyleInHeader"},
		{oauth2.AuthStyleInParams, "AuthStyleInParams"},
	}
	for _, s := range styles {
		authStyle, name := s.authStyle, s.name
		// --- the canonical example ---
		config := &clientcredentials.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			TokenURL:     issuer + "/oauth2/token",
			Scopes:       []string{"service:my-api"},
			AuthStyle:    authStyle, // zero value: auto-detect (Basic first, then the form)
		}
		token, err := config.Token(ctx)
		must(err, name+" config.Token")
		resp, err := config.Client(ctx).Get(serviceURL + "/anything?lib=go-oauth2")
		must(err, name+" service call")
		// --- end of the canonical example ---

		check(token.TokenType == "Bearer" && token.AccessToken != "" && time.Until(token.Expiry) > 59*time.Minute,
			name+" config.Token")
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		must(err, "read service response")
		check(resp.StatusCode == 200, fmt.Sprintf("%s service call (%d)", name, resp.StatusCode))
		var e echo
		must(json.Unmarshal(body, &e), "origin JSON")
		check(e.Headers["x-isogate-user"] == "root" && e.Headers["x-isogate-service"] == "my-api",
			name+": origin sees the verified user")
		_, leaked := e.Headers["authorization"]
		check(!leaked, name+": origin never sees the token")

		// A wrong secret: the library returns *oauth2.RetrieveError with the 401 response.
		bad := *config
		bad.ClientSecret = "wrong"
		_, err = bad.Token(ctx)
		var rerr *oauth2.RetrieveError
		check(errors.As(err, &rerr) && rerr.Response.StatusCode == 401 &&
			strings.Contains(string(rerr.Body), `"invalid_client"`),
			name+" reports invalid_client as *oauth2.RetrieveError (401)")
		fmt.Printf("   (%s) wrong secret -> %v\n", name, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	fmt.Println("all go client checks passed")
}
