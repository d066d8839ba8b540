package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The tokens table holds refresh tokens (rt#), the revocation markers of
// grants (grant#) and access tokens (jti#), and used client assertion ids
// (jti_asrt#).

// CreateRefreshToken stores the first refresh token of a new grant
// (conditional PutItem); ErrConflict if a live token has its hash.
func (s *Store) CreateRefreshToken(ctx context.Context, token *oauth.RefreshToken) error {
	const method = "CreateRefreshToken"
	if token.Hash == "" {
		return fmt.Errorf("dynamostore: %s: empty refresh token hash", method)
	}
	err := s.put(ctx, s.refreshTokenPut(token, s.now()))
	if _, ok := conditionFailed(err); ok {
		return conflict(method, "refresh token already exists")
	}
	if err != nil {
		return fail(method, "PutItem", err, s.tables.Tokens)
	}
	return nil
}

// refreshTokenPut is the conditional Put that stores a new refresh token.
func (s *Store) refreshTokenPut(t *oauth.RefreshToken, now int64) *types.Put {
	return &types.Put{
		TableName:                 &s.tables.Tokens,
		Item:                      itemOfRefreshToken(t),
		ConditionExpression:       aws.String(condNewToken),
		ExpressionAttributeValues: item{":now": num(now)},
	}
}

// GetRefreshToken returns the unexpired token with this hash in grant
// grantID, rotated or not, with GrantRevoked filled in: one strongly
// consistent BatchGetItem of the token and the grant's revocation marker.
// A token of another grant is ErrNotFound.
func (s *Store) GetRefreshToken(ctx context.Context, grantID, hash string) (*oauth.RefreshToken, error) {
	const method = "GetRefreshToken"
	if grantID == "" || hash == "" {
		return nil, notFound(method, "refresh token")
	}
	found, err := s.batchGetTokens(ctx, method, refreshTokenKey(hash), grantKey(grantID))
	if err != nil {
		return nil, err
	}
	now := s.now()
	it := found[prefixRefreshToken+hash]
	if it == nil || !live(it, now) {
		return nil, notFound(method, "refresh token")
	}
	t, err := refreshTokenOf(it)
	if err != nil {
		return nil, corrupt(method, s.tables.Tokens, err)
	}
	if t.GrantID != grantID {
		return nil, notFound(method, "refresh token")
	}
	if marker := found[prefixGrant+grantID]; marker != nil {
		t.GrantRevoked = live(marker, now)
	}
	return t, nil
}

// RotateRefreshToken atomically marks the token oldHash rotated and stores
// next, in one TransactWriteItems: an Update of the old token (unrotated,
// unexpired, in next's grant), a conditional Put of next, and a
// ConditionCheck that the grant has no live revocation. A missing, expired
// or other-grant old token is ErrNotFound; a rotated one, a revoked grant, a
// taken next hash or a concurrent rotation is ErrConflict; on error nothing
// is written.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next *oauth.RefreshToken) error {
	const method = "RotateRefreshToken"
	if oldHash == "" || next.GrantID == "" {
		return notFound(method, "refresh token")
	}
	if next.Hash == "" {
		return fmt.Errorf("dynamostore: %s: empty refresh token hash", method)
	}
	if next.Hash == oldHash {
		return conflict(method, "refresh token already exists")
	}
	now := s.now()
	err := s.transact(ctx, []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:           &s.tables.Tokens,
			Key:                 refreshTokenKey(oldHash),
			UpdateExpression:    aws.String("SET rotated = :true"),
			ConditionExpression: aws.String(condRotate),
			ExpressionAttributeValues: item{":true": valTrue, ":false": valFalse,
				":now": num(now), ":gid": str(next.GrantID)},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		{Put: s.refreshTokenPut(next, now)},
		{ConditionCheck: s.grantNotRevoked(next.GrantID, now)},
	})
	if err == nil {
		return nil
	}
	if c, ok := canceled(err); ok {
		if old, ok := c.conditionFailed(0); ok {
			switch {
			case old == nil || !live(old, now):
				return notFound(method, "refresh token")
			case stringAttr(old, attrGrantID) != next.GrantID:
				// Looked up in next's grant, the old token does not exist.
				return notFound(method, "refresh token")
			default:
				return conflict(method, "refresh token already rotated")
			}
		}
		if _, ok := c.conditionFailed(1); ok {
			return conflict(method, "refresh token already exists")
		}
		if _, ok := c.conditionFailed(2); ok {
			return conflict(method, "grant revoked")
		}
		if c.has(reasonConflict) {
			return conflict(method, "a concurrent transaction holds the token or its grant")
		}
		if c.throttled() {
			return throttled(method, "TransactWriteItems", err, s.tables.Tokens)
		}
	}
	return fail(method, "TransactWriteItems", err, s.tables.Tokens)
}

// RevokeGrant revokes every token of the grant until keepUntil: one
// UpdateItem of the marker grant#<id> that only ever moves its expires_at
// later (a failed condition means a later revocation is already there).
func (s *Store) RevokeGrant(ctx context.Context, grantID string, keepUntil time.Time) error {
	if grantID == "" {
		return fmt.Errorf("dynamostore: RevokeGrant: empty grant id")
	}
	return s.extendMarker(ctx, "RevokeGrant", grantKey(grantID), keepUntil)
}

// RevokeAccessToken records the revocation of the access token jti until
// expiresAt, in the marker jti#<jti>, as RevokeGrant does.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" {
		return fmt.Errorf("dynamostore: RevokeAccessToken: empty jti")
	}
	return s.extendMarker(ctx, "RevokeAccessToken", jtiKey(jti), expiresAt)
}

// extendMarker sets the revocation marker key to expire at until, unless it
// already expires later. A TransactionConflictException (the marker is in
// a rotation's ConditionCheck) is retried, as for every single-item write.
func (s *Store) extendMarker(ctx context.Context, method string, key item, until time.Time) error {
	err := s.update(ctx, &types.Update{
		TableName:                 &s.tables.Tokens,
		Key:                       key,
		UpdateExpression:          aws.String("SET expires_at = :k"),
		ConditionExpression:       aws.String(condExtend),
		ExpressionAttributeValues: item{":k": epoch(until)},
	})
	if _, ok := conditionFailed(err); ok {
		return nil // the marker already lasts at least as long
	}
	if err != nil {
		return fail(method, "UpdateItem", err, s.tables.Tokens)
	}
	return nil
}

// AccessTokenRevoked reports whether the access token jti, or its grant if
// grantID is not empty, has an unexpired revocation: a strongly consistent
// GetItem of jti#<jti>, or one BatchGetItem of it and grant#<id>.
func (s *Store) AccessTokenRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	const method = "AccessTokenRevoked"
	now := s.now()
	var key item
	switch {
	case jti == "" && grantID == "":
		return false, nil
	case grantID == "":
		key = jtiKey(jti)
	case jti == "":
		key = grantKey(grantID)
	}
	if key != nil {
		it, err := s.getItem(ctx, method, s.tables.Tokens, key, true)
		if err != nil {
			return false, err
		}
		return it != nil && live(it, now), nil
	}
	found, err := s.batchGetTokens(ctx, method, jtiKey(jti), grantKey(grantID))
	if err != nil {
		return false, err
	}
	for _, it := range found {
		if live(it, now) {
			return true, nil
		}
	}
	return false, nil
}

// UseAssertionID records client clientID's use of the assertion id jti
// until expiresAt: one PutItem of jti_asrt#<hash> with the condition that
// no live item has that key. ErrConflict if one has: a replay.
//
// The item carries a random nonce. Should the client retry a put whose
// first attempt landed (the response was lost), the retry fails its
// condition on the item it wrote itself; ReturnValuesOnConditionCheckFailure
// ALL_OLD returns that item, whose nonce tells the store the use was its
// own, not a replay.
func (s *Store) UseAssertionID(ctx context.Context, clientID, jti string, expiresAt time.Time) error {
	const method = "UseAssertionID"
	if clientID == "" || jti == "" {
		return fmt.Errorf("dynamostore: %s: empty client id or jti", method)
	}
	nonce := oauth.RandomToken()[:22]
	err := s.put(ctx, &types.Put{
		TableName: &s.tables.Tokens,
		Item: marshal(assertionIDItem{
			PK:        assertionIDKey(clientID, jti),
			ExpiresAt: expiresAt,
			Nonce:     nonce,
		}),
		ConditionExpression:                 aws.String(condNewToken),
		ExpressionAttributeValues:           item{":now": num(s.now())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		if stringAttr(old, attrNonce) == nonce {
			return nil // our own first attempt
		}
		return conflict(method, "client assertion id already used")
	}
	if err != nil {
		return fail(method, "PutItem", err, s.tables.Tokens)
	}
	return nil
}
