package kmssigner

import (
	"context"

	"github.com/gatehouse/gatehouse/shared/awsjson"
)

// Service is AWS KMS as the awsjson client reaches it (AWS JSON 1.1,
// X-Amz-Target TrentService.<Operation>, endpoint and signing name "kms",
// AWS_ENDPOINT_URL_KMS). Make the Signer's client with
// awsjson.New(cfg, kmssigner.Service, awsjson.Options{}).
var Service = awsjson.Service{ID: "KMS", EndpointPrefix: "kms", TargetPrefix: "TrentService", JSONVersion: "1.1"}

// The request and response shapes of the two KMS operations the Signer
// calls, with the KMS API's member names
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html,
// API_GetPublicKey.html). Blob members are []byte, which encoding/json
// writes and reads as standard base64, as the protocol wants; members the
// Signer does not read are left out.
type (
	signInput struct {
		KeyId            string
		Message          []byte
		MessageType      string
		SigningAlgorithm string
	}
	signOutput struct {
		KeyId            string // the key ARN, whatever the input named
		Signature        []byte
		SigningAlgorithm string
	}
	getPublicKeyInput struct {
		KeyId string
	}
	getPublicKeyOutput struct {
		KeyId             string // the key ARN
		KeySpec           string
		KeyUsage          string
		PublicKey         []byte // DER SubjectPublicKeyInfo
		SigningAlgorithms []string
	}
)

// Enumeration values of the KMS API that the Signer sends or checks.
const (
	messageTypeDigest  = "DIGEST"
	keyUsageSignVerify = "SIGN_VERIFY"
	keySpecRSA2048     = "RSA_2048"
	keySpecECCNISTP256 = "ECC_NIST_P256"

	signingAlgRSAPKCS1SHA256 = "RSASSA_PKCS1_V1_5_SHA_256"
	signingAlgRSAPSSSHA256   = "RSASSA_PSS_SHA_256"
	signingAlgECDSASHA256    = "ECDSA_SHA_256"
)

// callSign calls KMS Sign.
func (s *Signer) callSign(ctx context.Context, in signInput) (*signOutput, error) {
	var out signOutput
	if err := s.client.Call(ctx, "Sign", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// callGetPublicKey calls KMS GetPublicKey.
func (s *Signer) callGetPublicKey(ctx context.Context, keyID string) (*getPublicKeyOutput, error) {
	var out getPublicKeyOutput
	if err := s.client.Call(ctx, "GetPublicKey", getPublicKeyInput{KeyId: keyID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
