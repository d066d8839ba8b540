package kmssigner

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// kmsError describes a failed KMS call on k. Throttling, KMS-side faults
// and timeouts wrap oauth.ErrUnavailable (temporarily_unavailable: the
// client should retry); anything else is a server_error whose message names
// the key and the likely fix. The signing input is never part of it: KMS's
// messages and the SDK's errors describe the request, not its data.
func kmsError(op string, k *keyRef, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if hint := hint(apiErr.ErrorCode(), op, k); hint != "" {
			return fmt.Errorf("kmssigner: %s %s: %s: %w", op, k.id, hint, err)
		}
	}
	if transient(err) {
		return fmt.Errorf("kmssigner: %s %s: %w: %w", op, k.id, oauth.ErrUnavailable, err)
	}
	return fmt.Errorf("kmssigner: %s %s: %w", op, k.id, err)
}

// transient reports whether err is worth a retry by the client: whatever
// [NewClient]'s retryer retries (KMS throttling, a KMS-side fault, an HTTP
// 5xx, a timeout, a broken connection), here after its attempts are spent;
// the caller's deadline; and any other failure to reach KMS (signing writes
// nothing, so a lost response loses nothing). The caller's own cancellation
// is not transient: nobody is left to retry.
func transient(err error) bool {
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case retry.IsErrorRetryables(retryables).IsErrorRetryable(err).Bool():
		return true
	}
	var sendErr *smithyhttp.RequestSendError
	return errors.As(err, &sendErr)
}

// hint explains a KMS error that retrying will not fix, or returns "". The
// codes are KMS's exceptions
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html#API_Sign_Errors)
// and AccessDeniedException, common to all AWS APIs.
func hint(code, op string, k *keyRef) string {
	switch code {
	case "DisabledException":
		return fmt.Sprintf("the key is disabled: enable it (aws kms enable-key) or name an enabled key in %s", k.setting())
	case "AccessDeniedException":
		return fmt.Sprintf("access denied: allow kms:%s on this key in the function's IAM role and in the key policy", op)
	case "KMSInvalidStateException":
		return fmt.Sprintf("the key is not in a usable state (pending deletion or import?): "+
			"cancel its deletion (aws kms cancel-key-deletion) or name another key in %s", k.setting())
	case "NotFoundException":
		return fmt.Sprintf("no such key or alias in this account and region: check %s and AWS_REGION; "+
			"name a key of another account by its ARN", k.setting())
	case "KeyUnavailableException":
		return "the key's custom key store is unavailable: check its CloudHSM cluster or external key store proxy"
	case "InvalidKeyUsageException":
		return fmt.Sprintf("the key cannot sign with %s: it must be an asymmetric SIGN_VERIFY key (%s for %s)",
			k.alg.kms, suggestedSpec(k.alg), k.alg.jws)
	}
	return ""
}
