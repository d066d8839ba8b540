package dynamostore

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Consents are stored as one string set (SS) per client, attribute
// "consent#<client id>", on users and sessions: ADD merges scopes into a
// set atomically, so two consents given at once both count. Each set also
// holds consentMarker, which no scope can be (RFC 6749 §3.3: scope tokens
// have no spaces), so that a consent to no scope is a set too (DynamoDB
// has no empty sets). Readers drop it.
const (
	prefixConsent = "consent#"
	consentMarker = " "
)

// consentSet is the string set of a consent to scopes.
func consentSet(scopes []string) *types.AttributeValueMemberSS {
	set := []string{consentMarker}
	for _, sc := range scopes {
		if !slices.Contains(set, sc) {
			set = append(set, sc)
		}
	}
	return &types.AttributeValueMemberSS{Value: set}
}

// putConsents adds the consent sets to it.
func putConsents(it item, consents map[string][]string) {
	for client, scopes := range consents {
		it[prefixConsent+client] = consentSet(scopes)
	}
}

// readConsents returns the consents of it, by client, each sorted; nil if
// there are none. An attribute consent#… that is not a string set is an
// error.
func readConsents(it item) (map[string][]string, error) {
	var out map[string][]string
	for name, v := range it {
		client, ok := strings.CutPrefix(name, prefixConsent)
		if !ok {
			continue
		}
		set, ok := v.(*types.AttributeValueMemberSS)
		if !ok {
			return nil, fmt.Errorf("attribute %s is %s, want SS", name, typeName(v))
		}
		scopes := make([]string, 0, len(set.Value))
		for _, sc := range set.Value {
			if sc != consentMarker {
				scopes = append(scopes, sc)
			}
		}
		slices.Sort(scopes)
		if out == nil {
			out = map[string][]string{}
		}
		out[client] = scopes
	}
	return out, nil
}
