// An origin behind Isogate that believes only the signed identity assertion: every request
// must carry an X-Isogate-Assertion whose EdDSA signature checks against the gateway's
// published keys (JWKS), with the assertion's own typ (so an access token is refused), this
// deployment's issuer, this service's URL as audience, and a current exp. Go's standard
// library only (crypto/ed25519, encoding/json): no JWT library needed. It answers 200 with the
// verified claims, or 401 with why it refused. The README's Go snippet is an excerpt of this
// file; tests/e2e/assertion.test.mjs runs it as the origin of a service, on both runtimes.
//
// Settings from the environment: ISOGATE_ISSUER (http://localhost:PORT), ISOGATE_AUDIENCE
// (the service's URL, http://my-api.localhost:PORT). Listens on 127.0.0.1, on PORT or any
// free port, and prints "listening on 127.0.0.1:PORT".
//
// Built in GOPATH mode like the Go client (see ../../clients/install.sh):
//
//	GO111MODULE=off go build -o isogate-origin-go .
package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Assertion is what an X-Isogate-Assertion states.
type Assertion struct {
	Iss        string `json:"iss"`
	Aud        string `json:"aud"`
	Sub        string `json:"sub"` // the user
	ClientID   string `json:"client_id"`
	Credential string `json:"credential"`
	Scope      string `json:"scope"`
	Jti        string `json:"jti"` // the access token's
	Iat        int64  `json:"iat"`
	Exp        int64  `json:"exp"`
}

// Verifier checks assertions against the gateway's JWKS, fetched on first use and again for a
// kid it does not know (key rotation), at most once a minute.
type Verifier struct {
	Issuer, Audience string
	mu               sync.Mutex
	keys             map[string]ed25519.PublicKey
	fetched          time.Time
}

const leeway = 30 // seconds of clock skew, as the gateway allows

func (v *Verifier) Verify(r *http.Request) (*Assertion, error) {
	values := r.Header.Values("X-Isogate-Assertion")
	if len(values) != 1 {
		return nil, errors.New("expected one X-Isogate-Assertion header")
	}
	parts := strings.Split(values[0], ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed assertion")
	}
	var header struct{ Alg, Typ, Kid string }
	if err := decodePart(parts[0], &header); err != nil {
		return nil, err
	}
	if header.Typ != "isogate-assertion+jwt" || header.Alg != "EdDSA" {
		return nil, fmt.Errorf("unexpected typ %q or alg %q", header.Typ, header.Alg)
	}
	key, err := v.key(header.Kid)
	if err != nil {
		return nil, err
	}
	signature, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !ed25519.Verify(key, []byte(parts[0]+"."+parts[1]), signature) {
		return nil, errors.New("invalid signature")
	}
	var a Assertion
	if err := decodePart(parts[1], &a); err != nil {
		return nil, err
	}
	now := time.Now().Unix()
	switch {
	case a.Iss != v.Issuer:
		return nil, fmt.Errorf("unexpected iss %q", a.Iss)
	case a.Aud != v.Audience:
		return nil, fmt.Errorf("unexpected aud %q", a.Aud)
	case now >= a.Exp+leeway:
		return nil, errors.New("assertion expired")
	case now+leeway < a.Iat:
		return nil, errors.New("assertion issued in the future")
	}
	return &a, nil
}

func decodePart(part string, into interface{}) error {
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return errors.New("malformed assertion")
	}
	return json.Unmarshal(raw, into)
}

func (v *Verifier) key(kid string) (ed25519.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if key, ok := v.keys[kid]; ok {
		return key, nil
	}
	if time.Since(v.fetched) > time.Minute {
		v.fetched = time.Now()
		if err := v.fetchKeys(); err != nil {
			return nil, err
		}
	}
	if key, ok := v.keys[kid]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("no published key %q", kid)
}

func (v *Verifier) fetchKeys() error {
	resp, err := http.Get(v.Issuer + "/.well-known/jwks.json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct{ Kty, Crv, Kid, X string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		return err
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range jwks.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.Kty == "OKP" && k.Crv == "Ed25519" && err == nil && len(x) == ed25519.PublicKeySize {
			keys[k.Kid] = ed25519.PublicKey(x)
		}
	}
	v.keys = keys
	return nil
}

func main() {
	verifier := &Verifier{Issuer: os.Getenv("ISOGATE_ISSUER"), Audience: os.Getenv("ISOGATE_AUDIENCE")}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		assertion, err := verifier.Verify(r)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(map[string]*Assertion{"claims": assertion})
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "0"
	}
	listener, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	fmt.Fprintln(os.Stderr, http.Serve(listener, handler))
	os.Exit(1)
}
