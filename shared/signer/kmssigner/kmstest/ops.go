package kmstest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // the hashes of KMS's signing algorithms
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// The wire shapes of the operations (AWS JSON 1.1: []byte fields travel as
// base64, timestamps as epoch seconds).
type (
	keyInput struct {
		KeyId       *string
		GrantTokens []string
	}
	signInput struct {
		KeyId            *string
		Message          []byte
		MessageType      string
		SigningAlgorithm string
		GrantTokens      []string
		DryRun           bool
	}
	signOutput struct {
		KeyId            string
		Signature        []byte
		SigningAlgorithm string
	}
	getPublicKeyOutput struct {
		KeyId                 string
		KeySpec               string
		CustomerMasterKeySpec string
		KeyUsage              string
		PublicKey             []byte
		SigningAlgorithms     []string
	}
	keyMetadata struct {
		AWSAccountId          string
		Arn                   string
		CreationDate          float64
		CustomerMasterKeySpec string
		Description           string
		Enabled               bool
		KeyId                 string
		KeyManager            string
		KeySpec               string
		KeyState              string
		KeyUsage              string
		MultiRegion           bool
		Origin                string
		SigningAlgorithms     []string
	}
	describeKeyOutput struct {
		KeyMetadata keyMetadata
	}
)

// apiError is an error answer: an HTTP status and KMS's JSON error body.
type apiError struct {
	status  int
	typ     string
	message string
}

func clientError(typ, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, typ, fmt.Sprintf(format, args...)}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	op, body, aerr := checkRequest(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var (
		out any
		err *apiError
	)
	switch op {
	case OpSign:
		out, err = s.sign(r, body)
	case OpGetPublicKey:
		out, err = s.getPublicKey(r, body)
	case OpDescribeKey:
		out, err = s.describeKey(r, body)
	default:
		err = clientError("UnknownOperationException", "Operation %s is not supported by this KMS double", op)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	data, jerr := json.Marshal(out)
	if jerr != nil {
		writeError(w, &apiError{http.StatusInternalServerError, "KMSInternalException", jerr.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	_, _ = w.Write(data)
}

// checkRequest checks the AWS JSON 1.1 protocol and returns the operation
// and the body.
func checkRequest(r *http.Request) (op string, body []byte, err *apiError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return "", nil, clientError("UnknownOperationException", "KMS expects POST /, not %s %s", r.Method, r.URL.Path)
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-amz-json-1.1" {
		return "", nil, clientError("UnknownOperationException",
			"Content-Type %q is not application/x-amz-json-1.1", r.Header.Get("Content-Type"))
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	if !ok || op == "" {
		return "", nil, clientError("UnknownOperationException",
			"X-Amz-Target %q is not TrentService.<Operation>", r.Header.Get("X-Amz-Target"))
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", nil, clientError("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/kms/aws4_request") {
		return "", nil, clientError("IncompleteSignatureException",
			"Authorization is not a SigV4 signature for the kms service")
	}
	body, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if rerr != nil {
		return "", nil, clientError("SerializationException", "reading the body: %v", rerr)
	}
	return op, body, nil
}

// begin decodes the input, counts and records the request, waits the delay
// and injects any fault.
func (s *Server) begin(r *http.Request, op string, body []byte, in any, keyID func() *string, rec func(*Request)) *apiError {
	if err := decodeMembers(body, in); err != nil {
		return clientError("SerializationException", "%v", err)
	}
	req := Request{Op: op, KeyID: derefString(keyID())}
	if rec != nil {
		rec(&req)
	}
	s.mu.Lock()
	s.calls[op]++
	s.requests = append(s.requests, req)
	delay := s.delay
	fault := s.fault(op)
	s.mu.Unlock()
	wait(r.Context(), delay)
	if fault != "" {
		return &apiError{errorStatus[fault], fault, faultMessage(op, fault, req.KeyID)}
	}
	if keyID() == nil || *keyID() == "" {
		return clientError("ValidationException",
			"1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	return nil
}

func (s *Server) sign(r *http.Request, body []byte) (any, *apiError) {
	var in signInput
	if err := s.begin(r, OpSign, body, &in, func() *string { return in.KeyId }, func(req *Request) {
		req.SigningAlgorithm, req.MessageType, req.Message = in.SigningAlgorithm, in.MessageType, in.Message
	}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	k, notFound := s.resolve(*in.KeyId)
	var enabled bool
	if k != nil {
		enabled = k.enabled
	}
	s.mu.Unlock()
	switch {
	case k == nil:
		return nil, clientError("NotFoundException", "%s", notFound)
	case !enabled:
		return nil, clientError("DisabledException", "%s is disabled.", k.arn)
	case in.SigningAlgorithm == "":
		return nil, clientError("ValidationException", "1 validation error detected: Value null at 'signingAlgorithm' "+
			"failed to satisfy constraint: Member must not be null")
	case !slices.Contains(k.algs, in.SigningAlgorithm):
		return nil, clientError("InvalidKeyUsageException",
			"Signing algorithm %s is not valid for key %s (%s); it supports %s",
			in.SigningAlgorithm, k.arn, k.spec, strings.Join(k.algs, ", "))
	}
	hash := hashOf(in.SigningAlgorithm)
	var digest []byte
	switch in.MessageType {
	case "", "RAW":
		if len(in.Message) == 0 || len(in.Message) > 4096 {
			return nil, clientError("ValidationException", "1 validation error detected: Value at 'message' "+
				"failed to satisfy constraint: Member must have length between 1 and 4096")
		}
		h := hash.New()
		h.Write(in.Message)
		digest = h.Sum(nil)
	case "DIGEST":
		if len(in.Message) != hash.Size() {
			return nil, clientError("ValidationException", "Digest is invalid length for algorithm %s.", in.SigningAlgorithm)
		}
		digest = in.Message
	default:
		return nil, clientError("ValidationException", "1 validation error detected: Value '%s' at 'messageType' "+
			"failed to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]", in.MessageType)
	}
	if in.DryRun {
		return nil, clientError("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	var (
		sig []byte
		err error
	)
	switch {
	case strings.HasPrefix(in.SigningAlgorithm, "RSASSA_PSS_"):
		sig, err = k.signer.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash})
	default:
		// PKCS #1 v1.5 for RSA keys; ASN.1 DER for ECDSA keys.
		sig, err = k.signer.Sign(rand.Reader, digest, hash)
	}
	if err != nil {
		return nil, &apiError{http.StatusInternalServerError, "KMSInternalException", err.Error()}
	}
	return signOutput{KeyId: k.arn, Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

func (s *Server) getPublicKey(r *http.Request, body []byte) (any, *apiError) {
	var in keyInput
	if err := s.begin(r, OpGetPublicKey, body, &in, func() *string { return in.KeyId }, nil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, notFound := s.resolve(*in.KeyId)
	switch {
	case k == nil:
		return nil, clientError("NotFoundException", "%s", notFound)
	case !k.enabled:
		return nil, clientError("DisabledException", "%s is disabled.", k.arn)
	}
	return getPublicKeyOutput{
		KeyId: k.arn, KeySpec: k.spec, CustomerMasterKeySpec: k.spec, KeyUsage: "SIGN_VERIFY",
		PublicKey: k.der, SigningAlgorithms: k.algs,
	}, nil
}

func (s *Server) describeKey(r *http.Request, body []byte) (any, *apiError) {
	var in keyInput
	if err := s.begin(r, OpDescribeKey, body, &in, func() *string { return in.KeyId }, nil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, notFound := s.resolve(*in.KeyId)
	if k == nil {
		return nil, clientError("NotFoundException", "%s", notFound)
	}
	state := "Enabled"
	if !k.enabled {
		state = "Disabled"
	}
	return describeKeyOutput{KeyMetadata: keyMetadata{
		AWSAccountId: Account, Arn: k.arn, CreationDate: float64(k.created.UnixMilli()) / 1000,
		CustomerMasterKeySpec: k.spec, Enabled: k.enabled, KeyId: k.id, KeyManager: "CUSTOMER",
		KeySpec: k.spec, KeyState: state, KeyUsage: "SIGN_VERIFY", Origin: "AWS_KMS", SigningAlgorithms: k.algs,
	}}, nil
}

// hashOf is the hash of a KMS signing algorithm (all end in SHA_256,
// SHA_384 or SHA_512).
func hashOf(alg string) crypto.Hash {
	switch {
	case strings.HasSuffix(alg, "SHA_384"):
		return crypto.SHA384
	case strings.HasSuffix(alg, "SHA_512"):
		return crypto.SHA512
	default:
		return crypto.SHA256
	}
}

// decodeMembers unmarshals a request body into the input shape in (a
// pointer to a struct whose field names are the members' names), matching
// member names exactly as KMS does: encoding/json alone would also take
// "keyId" for KeyId. Members of other names are ignored.
func decodeMembers(body []byte, in any) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return err
	}
	t := reflect.TypeOf(in).Elem()
	known := make(map[string]json.RawMessage, t.NumField())
	for i := range t.NumField() {
		if v, ok := members[t.Field(i).Name]; ok {
			known[t.Field(i).Name] = v
		}
	}
	data, err := json.Marshal(known)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, in)
}

func writeError(w http.ResponseWriter, e *apiError) {
	data, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.typ, e.message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(e.status)
	_, _ = w.Write(data)
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
