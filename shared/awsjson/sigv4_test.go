package awsjson_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// verifySigV4 checks a request's Signature Version 4 Authorization header
// as AWS does, written from the specification
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)
// independently of the SDK's signer: the canonical request of a POST to /
// without a query, the string to sign, the derived key. It returns the
// credential scope's service and region.
func verifySigV4(r *http.Request, body []byte, accessKeyID, secret string) (service, region string, err error) {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", "", fmt.Errorf("Authorization %q: not AWS4-HMAC-SHA256", auth)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(part, "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[0] != accessKeyID || cred[4] != "aws4_request" {
		return "", "", fmt.Errorf("Credential %q: want %s/<date>/<region>/<service>/aws4_request", fields["Credential"], accessKeyID)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, cred[1]) {
		return "", "", fmt.Errorf("X-Amz-Date %q does not match the scope's date %q", amzDate, cred[1])
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.IsSorted(signed) || !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") ||
		!slices.Contains(signed, "x-amz-target") || !slices.Contains(signed, "content-type") {
		return "", "", fmt.Errorf("SignedHeaders %q: want sorted, with host, x-amz-date, x-amz-target and content-type", fields["SignedHeaders"])
	}
	var canonical strings.Builder
	canonical.WriteString("POST\n/\n\n")
	for _, h := range signed {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			v = strings.Join(r.Header.Values(h), ",")
		}
		canonical.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	payload := sha256.Sum256(body)
	canonical.WriteString("\n" + fields["SignedHeaders"] + "\n" + hex.EncodeToString(payload[:]))

	scope := strings.Join(cred[1:], "/")
	request := sha256.Sum256([]byte(canonical.String()))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(request[:])
	key := []byte("AWS4" + secret)
	for _, part := range cred[1:] {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "", "", fmt.Errorf("signature %s, want %s (canonical request:\n%s)", fields["Signature"], want, canonical.String())
	}
	return cred[3], cred[2], nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
