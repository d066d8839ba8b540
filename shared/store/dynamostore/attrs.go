package dynamostore

import (
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// item is one DynamoDB item, or a key, or the ExpressionAttributeValues of
// an expression: attribute values by name.
type item = map[string]types.AttributeValue

// Attribute names the store reads or writes outside the item types
// (items.go): in keys, expressions and raw reads. docs/dynamodb.md has
// them all.
const (
	attrClientID    = "client_id"    // clients' key
	attrUsername    = "username"     // users' key
	attrCodeHash    = "code_hash"    // codes' key
	attrPK          = "pk"           // tokens' key: "rt#…", "grant#…", "jti#…", "jti_asrt#…"
	attrSessionHash = "session_hash" // sessions' key, also "login#…" counters
	attrGrantID     = "grant_id"     // codes and refresh tokens
	attrNonce       = "nonce"        // assertion ids
	// attrExpiresAt is every expiring item's end, in epoch seconds: codes,
	// the four kinds of tokens, sessions and login counters. It is the
	// tables' TTL attribute.
	attrExpiresAt = "expires_at"
)

// Prefixes of the tokens table's partition key.
const (
	prefixRefreshToken = "rt#"    // rt#<token hash>: a refresh token
	prefixGrant        = "grant#" // grant#<grant id>: a grant revocation
	prefixJTI          = "jti#"   // jti#<jti>: an access token revocation
	// jti_asrt#<base64url(SHA-256(client id, 0, jti))>: a used
	// private_key_jwt assertion id. Hashed, so any client id and jti fit a
	// key, and two clients' ids never meet.
	prefixAssertionID = "jti_asrt#"
)

// Attribute values of keys and expressions.
func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func epoch(t time.Time) types.AttributeValue { return num(t.Unix()) }

var (
	valTrue  types.AttributeValue = &types.AttributeValueMemberBOOL{Value: true}
	valFalse types.AttributeValue = &types.AttributeValueMemberBOOL{Value: false}
)

// Keys.
func clientKey(id string) item         { return item{attrClientID: str(id)} }
func userKey(username string) item     { return item{attrUsername: str(username)} }
func codeKey(hash string) item         { return item{attrCodeHash: str(hash)} }
func sessionKey(hash string) item      { return item{attrSessionHash: str(hash)} }
func refreshTokenKey(hash string) item { return item{attrPK: str(prefixRefreshToken + hash)} }
func grantKey(grantID string) item     { return item{attrPK: str(prefixGrant + grantID)} }
func jtiKey(jti string) item           { return item{attrPK: str(prefixJTI + jti)} }

// assertionIDKey is the pk of client clientID's assertion id jti.
func assertionIDKey(clientID, jti string) string {
	sum := sha256.Sum256([]byte(clientID + "\x00" + jti))
	return prefixAssertionID + base64.RawURLEncoding.EncodeToString(sum[:])
}

// stringAttr returns the S attribute name of it, "" if it is absent or of
// another type.
func stringAttr(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// expiresAt returns the item's expires_at in epoch seconds; an item without
// a readable one counts as long expired.
func expiresAt(it item) int64 {
	v, ok := it[attrExpiresAt].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(v.Value, 10, 64)
	return n
}

// live reports whether an item with an expires_at is unexpired at now
// (epoch seconds).
func live(it item, now int64) bool { return now < expiresAt(it) }
