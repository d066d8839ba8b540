package oauth_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/shared/oauth"
	"github.com/gatehouse/gatehouse/shared/signer/localsigner"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

// TestImplicitGrantCapability: the implicit grant is a capability of the
// deployment. When it is off, the metadata does not advertise it (RFC 8414
// §2: grant_types_supported, response_types_supported,
// response_modes_supported) and an authorization request for
// response_type=token is refused with unsupported_response_type (RFC 6749
// §4.2.2.1), even from a client registered for it. When it is on (the
// library's default), both say so.
func TestImplicitGrantCapability(t *testing.T) {
	signer, err := localsigner.New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, off := range []bool{false, true} {
		name := "on"
		if off {
			name = "off"
		}
		t.Run(name, func(t *testing.T) {
			store := memstore.New()
			legacy := &oauth.Client{ID: "legacy-spa", RedirectURIs: []string{"https://spa.example/cb"},
				GrantTypes:    []string{oauth.GrantImplicit, oauth.GrantAuthorizationCode},
				ResponseTypes: []string{oauth.ResponseTypeToken, oauth.ResponseTypeCode},
				Scopes:        []string{"read"}, TokenEndpointAuthMethod: oauth.AuthMethodNone}
			if err := store.PutClient(ctx, legacy); err != nil {
				t.Fatal(err)
			}
			cfg := oauth.Config{Issuer: "https://auth.example.com", DisableImplicitGrant: off}
			srv, err := oauth.NewServer(cfg, store, signer, nil)
			if err != nil {
				t.Fatal(err)
			}
			d, err := oauth.NewDiscovery(cfg, signer)
			if err != nil {
				t.Fatal(err)
			}
			for _, md := range []*oauth.Metadata{srv.Metadata(), d.Metadata()} {
				advertised := map[string]bool{
					"grant_types_supported has implicit":     slices.Contains(md.GrantTypesSupported, oauth.GrantImplicit),
					"response_types_supported has token":     slices.Contains(md.ResponseTypesSupported, oauth.ResponseTypeToken),
					"response_modes_supported has fragment":  slices.Contains(md.ResponseModesSupported, "fragment"),
					"response_types_supported lacks code":    !slices.Contains(md.ResponseTypesSupported, oauth.ResponseTypeCode),
					"grant_types_supported lacks auth code":  !slices.Contains(md.GrantTypesSupported, oauth.GrantAuthorizationCode),
					"response_modes_supported lacks query":   !slices.Contains(md.ResponseModesSupported, "query"),
					"grant_types_supported lacks the others": !slices.Contains(md.GrantTypesSupported, oauth.GrantRefreshToken),
				}
				for what, got := range advertised {
					want := !off && !strings.Contains(what, "lacks")
					if got != want {
						t.Errorf("%s: %v, want %v (metadata %+v)", what, got, want, md)
					}
				}
			}

			params := url.Values{"client_id": {legacy.ID}, "redirect_uri": {"https://spa.example/cb"},
				"response_type": {oauth.ResponseTypeToken}, "state": {"xyz"}}
			req, oe := srv.ParseAuthorizeRequest(ctx, params)
			if !off {
				if oe != nil {
					t.Fatalf("implicit on: %v", oe)
				}
				return
			}
			if oe == nil || oe.Code != oauth.CodeUnsupportedResponseType {
				t.Fatalf("implicit off: error %v, want %s", oe, oauth.CodeUnsupportedResponseType)
			}
			// The error goes back to the client (the client and redirect URI
			// are valid), in the fragment a response_type=token client reads
			// (RFC 6749 §4.2.2.1), with its state.
			if req == nil {
				t.Fatal("no request to redirect the error to")
			}
			loc, err := url.Parse(srv.ErrorRedirect(req, oe))
			if err != nil {
				t.Fatal(err)
			}
			frag, _ := url.ParseQuery(loc.Fragment)
			if frag.Get("error") != oauth.CodeUnsupportedResponseType || frag.Get("state") != "xyz" || frag.Has("access_token") {
				t.Errorf("error redirect %s", loc)
			}
			// The code flow is unaffected.
			params.Set("response_type", oauth.ResponseTypeCode)
			params.Set("code_challenge", strings.Repeat("a", 43))
			params.Set("code_challenge_method", oauth.PKCEMethodS256)
			if _, oe := srv.ParseAuthorizeRequest(ctx, params); oe != nil {
				t.Errorf("code flow with implicit off: %v", oe)
			}
		})
	}
}
