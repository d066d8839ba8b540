package kmssigner

import (
	"errors"
	"strings"
)

// checkKeyID checks the form of a KMS key identifier: a key id, key ARN,
// alias name ("alias/x") or alias ARN. Its error completes a sentence that
// starts with the identifier.
func checkKeyID(id string) error {
	const want = `is not a KMS key id, key ARN, alias name ("alias/...") or alias ARN`
	switch {
	case id == "":
		return errors.New("is empty; want a KMS key id, key ARN, alias name (\"alias/...\") or alias ARN")
	case len(id) > 2048:
		return errors.New("is longer than KMS allows (2048 characters)")
	case strings.HasPrefix(id, "arn:"):
		// arn:PARTITION:kms:REGION:ACCOUNT:key/ID or ...:alias/NAME
		parts := strings.SplitN(id, ":", 6)
		if len(parts) != 6 || parts[1] == "" || parts[2] != "kms" || parts[3] == "" || !isAccount(parts[4]) {
			return errors.New(want + ` (a KMS ARN is "arn:aws:kms:REGION:ACCOUNT:key/ID" or "...:alias/NAME")`)
		}
		if name, ok := strings.CutPrefix(parts[5], "key/"); ok && isKeyID(name) {
			return nil
		}
		if name, ok := strings.CutPrefix(parts[5], "alias/"); ok && isAlias(name) {
			return nil
		}
		return errors.New(want)
	case strings.HasPrefix(id, "alias/"):
		if !isAlias(id[len("alias/"):]) {
			return errors.New(want + " (alias names use only A-Z, a-z, 0-9, /, _ and -)")
		}
		return nil
	case !isKeyID(id):
		return errors.New(want)
	}
	return nil
}

func isKeyID(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
	})
}

func isAlias(s string) bool {
	return s != "" && len(s) <= 250 && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '_' || r == '-')
	})
}

func isAccount(s string) bool {
	return len(s) == 12 && !strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}
