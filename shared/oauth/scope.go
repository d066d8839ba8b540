package oauth

import (
	"slices"
	"strings"
)

// parseScope parses a scope parameter (RFC 6749 §3.3): space-delimited
// tokens of %x21 / %x23-5B / %x5D-7E. Duplicates are dropped.
func parseScope(raw string) ([]string, *Error) {
	var out []string
	for _, tok := range strings.Split(raw, " ") {
		if tok == "" {
			continue
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return nil, ErrInvalidScope("scope contains an invalid character")
			}
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, nil
}

// resolveScope applies RFC 6749 §3.3 to a requested scope: an empty request
// means the allowed scope; otherwise every requested token must be allowed.
func resolveScope(raw string, allowed []string) ([]string, *Error) {
	requested, err := parseScope(raw)
	if err != nil {
		return nil, err
	}
	if len(requested) == 0 {
		return slices.Clone(allowed), nil
	}
	for _, sc := range requested {
		if !slices.Contains(allowed, sc) {
			return nil, ErrInvalidScope("scope %q is not allowed", sc)
		}
	}
	return requested, nil
}

// joinScope formats scopes for the wire.
func joinScope(scopes []string) string { return strings.Join(scopes, " ") }
