package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// CreateCode stores a new authorization code (conditional PutItem);
// ErrConflict if a live code has its hash.
//
// With a session change, it is one TransactWriteItems of the code's Put
// and the change's updates (changeSession).
func (s *Store) CreateCode(ctx context.Context, code *oauth.AuthorizationCode, change *oauth.SessionChange) error {
	const method = "CreateCode"
	if code.Hash == "" || code.GrantID == "" {
		return fmt.Errorf("dynamostore: %s: code without hash or grant id", method)
	}
	put := &types.Put{
		TableName:                 &s.tables.Codes,
		Item:                      itemOfCode(code),
		ConditionExpression:       aws.String(condNewCode),
		ExpressionAttributeValues: item{":now": num(s.now())},
	}
	if change != nil {
		return s.changeSession(ctx, method, change, put)
	}
	err := s.put(ctx, put)
	if _, ok := conditionFailed(err); ok {
		return conflict(method, "authorization code already exists")
	}
	if err != nil {
		return fail(method, "PutItem", err, s.tables.Codes)
	}
	return nil
}

// GetCode returns the unexpired code with this hash, redeemed or not
// (strongly consistent GetItem: the code was written by another Lambda an
// instant ago).
func (s *Store) GetCode(ctx context.Context, hash string) (*oauth.AuthorizationCode, error) {
	const method = "GetCode"
	if hash == "" {
		return nil, notFound(method, "authorization code")
	}
	it, err := s.getItem(ctx, method, s.tables.Codes, codeKey(hash), true)
	if err != nil || it == nil || !live(it, s.now()) {
		return nil, orNotFound(err, method, "authorization code")
	}
	c, err := codeOf(it)
	if err != nil {
		return nil, corrupt(method, s.tables.Codes, err)
	}
	return c, nil
}

// RedeemCode atomically marks the code redeemed and, if first is not nil,
// stores the grant's first refresh token: one TransactWriteItems of an
// Update of the code (unredeemed, unexpired, of grant grantID), a
// ConditionCheck that the grant has no live revocation and the
// conditional Put of first (when given). A missing or expired code, or
// one of another grant, is ErrNotFound; a redeemed code, a revoked grant,
// a taken first hash or a concurrent redemption is ErrConflict; on error
// nothing is written.
func (s *Store) RedeemCode(ctx context.Context, codeHash, grantID string, first *oauth.RefreshToken) error {
	const method = "RedeemCode"
	if codeHash == "" || grantID == "" {
		return notFound(method, "authorization code")
	}
	if first != nil && (first.Hash == "" || first.GrantID != grantID) {
		return fmt.Errorf("dynamostore: %s: refresh token without hash or of another grant", method)
	}
	now := s.now()
	actions := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:           &s.tables.Codes,
			Key:                 codeKey(codeHash),
			UpdateExpression:    aws.String("SET redeemed = :true"),
			ConditionExpression: aws.String(condRedeem),
			ExpressionAttributeValues: item{":true": valTrue, ":false": valFalse,
				":now": num(now), ":gid": str(grantID)},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		{ConditionCheck: s.grantNotRevoked(grantID, now)},
	}
	if first != nil {
		actions = append(actions, types.TransactWriteItem{Put: s.refreshTokenPut(first, now)})
	}
	err := s.transact(ctx, actions)
	if err == nil {
		return nil
	}
	tables := []string{s.tables.Codes, s.tables.Tokens}
	c, ok := canceled(err)
	if !ok {
		return fail(method, "TransactWriteItems", err, tables...)
	}
	if old, ok := c.conditionFailed(0); ok {
		switch {
		case old == nil || !live(old, now):
			return notFound(method, "authorization code")
		case stringAttr(old, attrGrantID) != grantID:
			return notFound(method, "authorization code of this grant")
		default:
			return conflict(method, "authorization code already redeemed")
		}
	}
	if _, ok := c.conditionFailed(1); ok {
		return conflict(method, "the code's grant is revoked")
	}
	if _, ok := c.conditionFailed(2); ok {
		return conflict(method, "refresh token already exists")
	}
	if c.has(reasonConflict) {
		// Another redemption (or a revocation of the grant) is in flight.
		return conflict(method, "a concurrent transaction holds the code or its grant")
	}
	if c.throttled() {
		return throttled(method, "TransactWriteItems", err, tables...)
	}
	return fail(method, "TransactWriteItems", err, tables...)
}

// grantNotRevoked is the ConditionCheck that grant grantID has no live
// revocation marker.
func (s *Store) grantNotRevoked(grantID string, now int64) *types.ConditionCheck {
	return &types.ConditionCheck{
		TableName:                 &s.tables.Tokens,
		Key:                       grantKey(grantID),
		ConditionExpression:       aws.String(condGrantNotRevoked),
		ExpressionAttributeValues: item{":now": num(now)},
	}
}
