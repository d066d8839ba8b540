package oauth

import (
	"context"
	"errors"
	"slices"
)

// Metadata is the authorization server metadata document (RFC 8414 §2),
// which is also the OpenID Provider metadata document (OpenID Connect
// Discovery 1.0 §3): the fields both define carry the same values, and
// /.well-known/openid-configuration serves the same document.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	// The *_auth_signing_alg_values_supported members list the JWS
	// algorithms of private_key_jwt assertions; RFC 8414 §2 requires them
	// when private_key_jwt is among the endpoint's methods.
	TokenEndpointAuthSigningAlgValuesSupported         []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpoint                                 string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethodsSupported             []string `json:"revocation_endpoint_auth_methods_supported"`
	RevocationEndpointAuthSigningAlgValuesSupported    []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpoint                              string   `json:"introspection_endpoint"`
	IntrospectionEndpointAuthMethodsSupported          []string `json:"introspection_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthSigningAlgValuesSupported []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethodsSupported                      []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseISSParameterSupported         bool     `json:"authorization_response_iss_parameter_supported"`
	// SubjectTypesSupported and IDTokenSigningAlgValuesSupported are
	// required of an OpenID Provider document; they are published so the
	// same document can serve /.well-known/openid-configuration, which API
	// Gateway's JWT authorizer reads to find jwks_uri.
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	// UserInfoEndpoint is the UserInfo endpoint (OpenID Connect Discovery
	// 1.0 §3: RECOMMENDED; OpenID Connect Core 1.0 §5.3).
	UserInfoEndpoint string `json:"userinfo_endpoint"`
	// OpenID Connect Discovery 1.0 §3. ClaimsSupported names the claims
	// the server may release (RECOMMENDED). The claims, request and
	// request_uri parameters are not supported, and say so: a missing
	// request_uri_parameter_supported would mean true.
	ClaimsSupported               []string `json:"claims_supported"`
	ClaimsParameterSupported      bool     `json:"claims_parameter_supported"`
	RequestParameterSupported     bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported  bool     `json:"request_uri_parameter_supported"`
	RequireRequestURIRegistration bool     `json:"require_request_uri_registration"`
	// EndSessionEndpoint is the end-session endpoint (OpenID Connect
	// RP-Initiated Logout 1.0 §2.1).
	EndSessionEndpoint string `json:"end_session_endpoint"`
}

// ClaimsSupported are the claims Gatehouse supplies (OpenID Connect
// Discovery 1.0 §3, claims_supported): those of its ID tokens (OpenID
// Connect Core §2, §3.1.3.6), then the user's standard claims (§5.1) that
// the UserInfo endpoint returns (SupportedClaims, sub once).
var ClaimsSupported = append([]string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr"},
	SupportedClaims[1:]...)

// Discovery is what an authorization server publishes about itself: its
// metadata (RFC 8414) and the public keys of its tokens (RFC 7517). It
// needs no store, so a program that serves only these (the metadata
// function) links none.
type Discovery struct {
	cfg    Config
	signer Signer
}

// NewDiscovery checks cfg as NewServer does and returns the Discovery of
// the server it configures.
func NewDiscovery(cfg Config, signer Signer) (*Discovery, error) {
	if signer == nil {
		return nil, errors.New("oauth: NewDiscovery needs a signer")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Discovery{cfg: cfg, signer: signer}, nil
}

// Discovery returns the server's metadata and keys.
func (s *Server) Discovery() *Discovery { return &Discovery{cfg: s.cfg, signer: s.signer} }

// Metadata returns the server's RFC 8414 metadata.
func (s *Server) Metadata() *Metadata { return s.Discovery().Metadata() }

// JWKS returns the public keys that verify the server's tokens (RFC 7517
// §5), for the jwks_uri.
func (s *Server) JWKS(ctx context.Context) (*JWKS, error) { return s.Discovery().JWKS(ctx) }

// url returns the absolute URL of an endpoint path.
func (d *Discovery) url(path string) string { return d.cfg.Issuer + path }

// Metadata returns the RFC 8414 §2 metadata document.
func (d *Discovery) Metadata() *Metadata {
	// Public clients (none) may revoke their tokens but not introspect
	// (see Introspect).
	methods := []string{AuthMethodBasic, AuthMethodPost, AuthMethodPrivateKeyJWT, AuthMethodNone}
	confidential := []string{AuthMethodBasic, AuthMethodPost, AuthMethodPrivateKeyJWT}
	return &Metadata{
		Issuer:                            d.cfg.Issuer,
		AuthorizationEndpoint:             d.url(PathAuthorize),
		TokenEndpoint:                     d.url(PathToken),
		JWKSURI:                           d.url(PathJWKS),
		ScopesSupported:                   d.scopes(),
		ResponseTypesSupported:            d.responseTypes(),
		ResponseModesSupported:            d.responseModes(),
		GrantTypesSupported:               d.grantTypes(),
		TokenEndpointAuthMethodsSupported: methods,
		TokenEndpointAuthSigningAlgValuesSupported:         ClientAssertionAlgs(),
		RevocationEndpoint:                                 d.url(PathRevoke),
		RevocationEndpointAuthMethodsSupported:             methods,
		RevocationEndpointAuthSigningAlgValuesSupported:    ClientAssertionAlgs(),
		IntrospectionEndpoint:                              d.url(PathIntrospect),
		IntrospectionEndpointAuthMethodsSupported:          confidential,
		IntrospectionEndpointAuthSigningAlgValuesSupported: ClientAssertionAlgs(),
		CodeChallengeMethodsSupported:                      []string{PKCEMethodS256},
		AuthorizationResponseISSParameterSupported:         true,
		SubjectTypesSupported:                              []string{"public"},
		IDTokenSigningAlgValuesSupported:                   []string{d.signer.Algorithm()},
		UserInfoEndpoint:                                   d.url(PathUserInfo),
		ClaimsSupported:                                    slices.Clone(ClaimsSupported),
		EndSessionEndpoint:                                 d.url(PathLogout),
	}
}

// scopes returns scopes_supported: the configured scopes, with openid
// first if they lack it (OpenID Connect Discovery 1.0 §3: "The server MUST
// support the openid scope value"), or none (the field is RECOMMENDED,
// not REQUIRED) when no scope is configured.
func (d *Discovery) scopes() []string {
	if len(d.cfg.ScopesSupported) == 0 || slices.Contains(d.cfg.ScopesSupported, "openid") {
		return d.cfg.ScopesSupported
	}
	return append([]string{"openid"}, d.cfg.ScopesSupported...)
}

// responseTypes, responseModes and grantTypes advertise what the
// authorization and token endpoints accept (RFC 8414 §2): the implicit
// grant, its response_type=token and the fragment it answers in only when
// the deployment allows it (Config.DisableImplicitGrant). The OpenID
// Connect response types that return an ID token from the authorization
// endpoint (OpenID Connect Core 1.0 §3.2, §3.3; Discovery 1.0 §3) sign
// there too, so they follow the same switch.
func (d *Discovery) responseTypes() []string {
	if d.cfg.DisableImplicitGrant {
		return []string{ResponseTypeCode}
	}
	return []string{ResponseTypeCode, ResponseTypeToken, ResponseTypeIDToken, ResponseTypeIDTokenToken, ResponseTypeCodeIDToken}
}

func (d *Discovery) responseModes() []string {
	if d.cfg.DisableImplicitGrant {
		return []string{"query"}
	}
	return []string{"query", "fragment"}
}

func (d *Discovery) grantTypes() []string {
	if d.cfg.DisableImplicitGrant {
		return []string{GrantAuthorizationCode, GrantPassword, GrantClientCredentials, GrantRefreshToken}
	}
	return []string{GrantAuthorizationCode, GrantImplicit, GrantPassword, GrantClientCredentials, GrantRefreshToken}
}

// JWKS returns the public keys that verify this server's tokens (RFC 7517
// §5), for the jwks_uri.
func (d *Discovery) JWKS(ctx context.Context) (*JWKS, error) {
	keys, err := d.signer.PublicKeys(ctx)
	if err != nil {
		return nil, ErrServer(err)
	}
	set := &JWKS{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		j, err := NewJWK(k.Key, k.KeyID, k.Algorithm)
		if err != nil {
			return nil, ErrServer(err)
		}
		set.Keys = append(set.Keys, j)
	}
	return set, nil
}
