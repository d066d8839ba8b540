package oauth

import "context"

// Metadata is the authorization server metadata document (RFC 8414 §2).
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
}

// Metadata returns the server's RFC 8414 metadata.
func (s *Server) Metadata() *Metadata {
	// Public clients (none) may revoke their tokens but not introspect
	// (see Introspect).
	methods := []string{AuthMethodBasic, AuthMethodPost, AuthMethodPrivateKeyJWT, AuthMethodNone}
	confidential := []string{AuthMethodBasic, AuthMethodPost, AuthMethodPrivateKeyJWT}
	return &Metadata{
		Issuer:                            s.cfg.Issuer,
		AuthorizationEndpoint:             s.URL(PathAuthorize),
		TokenEndpoint:                     s.URL(PathToken),
		JWKSURI:                           s.URL(PathJWKS),
		ScopesSupported:                   s.cfg.ScopesSupported,
		ResponseTypesSupported:            []string{ResponseTypeCode, ResponseTypeToken},
		ResponseModesSupported:            []string{"query", "fragment"},
		GrantTypesSupported:               []string{GrantAuthorizationCode, GrantImplicit, GrantPassword, GrantClientCredentials, GrantRefreshToken},
		TokenEndpointAuthMethodsSupported: methods,
		TokenEndpointAuthSigningAlgValuesSupported:         ClientAssertionAlgs(),
		RevocationEndpoint:                                 s.URL(PathRevoke),
		RevocationEndpointAuthMethodsSupported:             methods,
		RevocationEndpointAuthSigningAlgValuesSupported:    ClientAssertionAlgs(),
		IntrospectionEndpoint:                              s.URL(PathIntrospect),
		IntrospectionEndpointAuthMethodsSupported:          confidential,
		IntrospectionEndpointAuthSigningAlgValuesSupported: ClientAssertionAlgs(),
		CodeChallengeMethodsSupported:                      []string{PKCEMethodS256},
		AuthorizationResponseISSParameterSupported:         true,
		SubjectTypesSupported:                              []string{"public"},
		IDTokenSigningAlgValuesSupported:                   []string{s.signer.Algorithm()},
	}
}

// JWKS returns the public keys that verify this server's tokens (RFC 7517
// §5), for the jwks_uri.
func (s *Server) JWKS(ctx context.Context) (*JWKS, error) {
	keys, err := s.signer.PublicKeys(ctx)
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
