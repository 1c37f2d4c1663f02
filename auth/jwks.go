package auth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// httpsOnly refuses redirects to anything but https: the key set decides who
// may sign in, so it must not travel in the clear.
func httpsOnly(req *http.Request, _ []*http.Request) error {
	if req.URL.Scheme != "https" {
		return fmt.Errorf("key set redirected to a non-https URL %s", req.URL.Redacted())
	}
	return nil
}

// checkKeySet makes sure every key can verify a token: without it, a key set
// missing an alg or a kid makes every token fail as if it were forged, and
// clients sign their users out.
func checkKeySet(set jwk.Set) error {
	if set.Len() == 0 {
		return errors.New("the key set has no keys")
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		if err := checkKey(k); err != nil {
			kid, _ := k.KeyID()
			return fmt.Errorf("key %d (kid %q) of the key set: %w", i, kid, err)
		}
	}
	return nil
}

// keyTypeOf is the key type each asymmetric signature algorithm family needs.
var keyTypeOf = map[string]jwa.KeyType{"ES": jwa.EC(), "RS": jwa.RSA(), "PS": jwa.RSA(), "Ed": jwa.OKP()}

func checkKey(k jwk.Key) error {
	if kid, ok := k.KeyID(); !ok || kid == "" {
		return errors.New(`no "kid": tokens name their key by kid`)
	}
	if use, ok := k.KeyUsage(); ok && use != "sig" {
		return fmt.Errorf(`"use" is %q, want "sig"`, use)
	}
	a, ok := k.Algorithm()
	if !ok || a.String() == "" {
		return errors.New(`no "alg": give every key its signing algorithm (ES256, RS256, EdDSA...)`)
	}
	alg, ok := jwa.LookupSignatureAlgorithm(a.String())
	if !ok || alg == jwa.NoSignature() || alg.IsSymmetric() {
		return fmt.Errorf(`"alg" %s is not a public-key signature algorithm`, a)
	}
	if want, ok := keyTypeOf[alg.String()[:2]]; !ok || k.KeyType() != want {
		return fmt.Errorf(`"alg" %s does not fit a key of type %s`, alg, k.KeyType())
	}
	if private, err := jwk.IsPrivateKey(k); err != nil || private {
		return errors.New("a private key: give the service the public key set only")
	}
	return nil
}
