// Package dynamostore is Gatehouse's production oauth.Store: five DynamoDB
// tables reached through shared/awsjson (DynamoDB's JSON protocol, signed
// with the SDK's SigV4 signer; the request and response shapes are in
// wire.go). docs/dynamodb.md describes the tables, their keys and
// attributes, and every access pattern.
//
// Each oauth.Store method makes one DynamoDB call. Two exceptions, both
// rare: GetRefreshToken and AccessTokenRevoked ask again for keys their
// BatchGetItem left unprocessed (DynamoDB does so only when throttled), and
// RedeemCode without a refresh token reads the code first when this Store
// has not already read or written it. Single use is enforced by condition
// expressions and transactions, never by read-then-write. Every read
// checks expires_at itself, since TTL deletes items late; the conditions of
// writes check it too, against the same clock (Store.Now).
package dynamostore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/shared/awsjson"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// Service is DynamoDB, for awsjson.New: JSON 1.0, X-Amz-Target
// DynamoDB_20120810.<operation>, responses checked against x-amz-crc32.
var Service = awsjson.Service{
	ID:             "DynamoDB",
	EndpointPrefix: "dynamodb",
	TargetPrefix:   "DynamoDB_20120810",
	JSONVersion:    "1.0",
	CRC32:          true,
}

// Tables names the five tables.
type Tables struct{ Clients, Users, Codes, Tokens, Sessions string }

// Store is the DynamoDB oauth.Store, with the admin methods the seed
// loader and the CLI use. Create it with New; it is safe for concurrent
// use.
type Store struct {
	// Now is the store's clock: it decides expiry on reads and in the
	// conditions of writes. New sets it to time.Now; a test may replace it
	// before the store is shared.
	Now func() time.Time

	db *awsjson.Client
	// writer is db, also retrying TransactionConflictException, for the
	// single-item writes: DynamoDB refuses, without applying it, a write to
	// an item an ongoing transaction holds, so repeating it is as safe as
	// sending it.
	writer *awsjson.Client
	tables Tables
	// scanLimit, if not zero, is the Limit of every Scan (tests).
	scanLimit int
}

var _ oauth.Store = (*Store)(nil)

// New returns a store on the given tables, reached through db (a client of
// Service). It makes no network call.
func New(db *awsjson.Client, tables Tables) *Store {
	s := &Store{Now: time.Now, db: db, tables: tables}
	if db != nil {
		s.writer = db.WithRetryCodes(codeTransactionConflict)
	}
	return s
}

// now is the store's clock in epoch seconds, the unit of expires_at. With
// expires_at = floor(ExpiresAt), "now < expires_at" holds exactly when
// floor(now) < expires_at, so reads and conditions agree.
func (s *Store) now() int64 { return s.Now().Unix() }

// live reports whether an item with an expires_at is unexpired at now.
func live(it item, now int64) bool { return now < expiresAt(it) }

// Condition expressions.
const (
	// A create succeeds where no live item is: none at all, or an expired
	// one that TTL has not deleted yet (expired is as good as gone).
	condNewCode         = "attribute_not_exists(code_hash) OR expires_at <= :now"
	condNewToken        = "attribute_not_exists(pk) OR expires_at <= :now"
	condNewSession      = "attribute_not_exists(session_hash) OR expires_at <= :now"
	condRedeem          = "attribute_exists(code_hash) AND redeemed = :false AND expires_at > :now AND grant_id = :gid"
	condRotate          = "attribute_exists(pk) AND rotated = :false AND expires_at > :now AND grant_id = :gid"
	condGrantNotRevoked = "attribute_not_exists(pk) OR expires_at <= :now"
	condExtend          = "attribute_not_exists(pk) OR expires_at < :k"
)

// GetClient returns the client with this ID (GetItem; eventually
// consistent: clients change rarely, and callers cache them anyway).
func (s *Store) GetClient(ctx context.Context, id string) (*oauth.Client, error) {
	const method = "GetClient"
	if id == "" { // DynamoDB refuses empty keys
		return nil, notFound(method, "client")
	}
	it, err := s.getItem(ctx, method, s.tables.Clients, clientKey(id), false)
	if err != nil || it == nil {
		return nil, orNotFound(err, method, "client")
	}
	c, err := clientFrom(it)
	if err != nil {
		return nil, corrupt(method, s.tables.Clients, err)
	}
	return c, nil
}

// GetUser returns the user with this username (GetItem, eventually
// consistent).
func (s *Store) GetUser(ctx context.Context, username string) (*oauth.User, error) {
	const method = "GetUser"
	if username == "" {
		return nil, notFound(method, "user")
	}
	it, err := s.getItem(ctx, method, s.tables.Users, userKey(username), false)
	if err != nil || it == nil {
		return nil, orNotFound(err, method, "user")
	}
	u, err := userFrom(it)
	if err != nil {
		return nil, corrupt(method, s.tables.Users, err)
	}
	return u, nil
}

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
	if change != nil {
		return s.changeSession(ctx, method, change, &put{
			TableName:                 s.tables.Codes,
			Item:                      codeItem(code),
			ConditionExpression:       condNewCode,
			ExpressionAttributeValues: item{":now": num(s.now())},
		})
	}
	err := s.writer.Call(ctx, "PutItem", &put{
		TableName:                 s.tables.Codes,
		Item:                      codeItem(code),
		ConditionExpression:       condNewCode,
		ExpressionAttributeValues: item{":now": num(s.now())},
	}, nil)
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
	c, err := codeFrom(it)
	if err != nil {
		return nil, corrupt(method, s.tables.Codes, err)
	}
	return c, nil
}

// RedeemCode atomically marks the code redeemed and, if first is not nil,
// stores the grant's first refresh token: one TransactWriteItems of an
// Update of the code (unredeemed, unexpired, of grant grantID), the
// conditional Put of first (when given) and a ConditionCheck that the
// grant has no live revocation. A missing or expired code, or one of
// another grant, is ErrNotFound; a redeemed code, a revoked grant, a taken
// first hash or a concurrent redemption is ErrConflict; on error nothing
// is written.
func (s *Store) RedeemCode(ctx context.Context, codeHash, grantID string, first *oauth.RefreshToken) error {
	const method = "RedeemCode"
	if codeHash == "" || grantID == "" {
		return notFound(method, "authorization code")
	}
	if first != nil && (first.Hash == "" || first.GrantID != grantID) {
		return fmt.Errorf("dynamostore: %s: refresh token without hash or of another grant", method)
	}
	return s.redeem(ctx, codeHash, grantID, first)
}

// redeem is RedeemCode's transaction for the code of grant grantID.
func (s *Store) redeem(ctx context.Context, codeHash, grantID string, first *oauth.RefreshToken) error {
	const method = "RedeemCode"
	now := s.now()
	actions := make([]transactWriteItem, 0, 3)
	actions = append(actions,
		transactWriteItem{Update: &update{
			TableName:           s.tables.Codes,
			Key:                 codeKey(codeHash),
			UpdateExpression:    "SET redeemed = :true",
			ConditionExpression: condRedeem,
			ExpressionAttributeValues: item{":true": valTrue, ":false": valFalse,
				":now": num(now), ":gid": str(grantID)},
			ReturnValuesOnConditionCheckFailure: allOld,
		}},
		transactWriteItem{ConditionCheck: s.grantNotRevoked(grantID, now)})
	if first != nil {
		actions = append(actions, transactWriteItem{Put: s.refreshTokenPut(first, now)})
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
		r := reader{it: old}
		switch {
		case old == nil || !live(old, now):
			return notFound(method, "authorization code")
		case r.s(attrGrantID) != grantID:
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
func (s *Store) grantNotRevoked(grantID string, now int64) *conditionCheck {
	return &conditionCheck{
		TableName:                 s.tables.Tokens,
		Key:                       grantKey(grantID),
		ConditionExpression:       condGrantNotRevoked,
		ExpressionAttributeValues: item{":now": num(now)},
	}
}

// transact runs the actions in one TransactWriteItems, with a fresh
// ClientRequestToken: the client's retries of this call (after a server
// fault or a lost response) repeat the token, so a transaction that
// already landed is not applied again, nor reported as failed.
func (s *Store) transact(ctx context.Context, actions []transactWriteItem) error {
	return s.db.Call(ctx, "TransactWriteItems", &transactWriteItemsInput{
		TransactItems:      actions,
		ClientRequestToken: requestToken(),
	}, nil)
}

// CreateRefreshToken stores the first refresh token of a new grant
// (conditional PutItem); ErrConflict if a live token has its hash.
func (s *Store) CreateRefreshToken(ctx context.Context, token *oauth.RefreshToken) error {
	const method = "CreateRefreshToken"
	if token.Hash == "" {
		return fmt.Errorf("dynamostore: %s: empty refresh token hash", method)
	}
	err := s.writer.Call(ctx, "PutItem", s.refreshTokenPut(token, s.now()), nil)
	if _, ok := conditionFailed(err); ok {
		return conflict(method, "refresh token already exists")
	}
	if err != nil {
		return fail(method, "PutItem", err, s.tables.Tokens)
	}
	return nil
}

// refreshTokenPut is the conditional Put that stores a new refresh token.
func (s *Store) refreshTokenPut(t *oauth.RefreshToken, now int64) *put {
	return &put{
		TableName:                 s.tables.Tokens,
		Item:                      refreshTokenItem(t),
		ConditionExpression:       condNewToken,
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
	t, err := refreshTokenFrom(it)
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
	err := s.transact(ctx, []transactWriteItem{
		{Update: &update{
			TableName:           s.tables.Tokens,
			Key:                 refreshTokenKey(oldHash),
			UpdateExpression:    "SET rotated = :true",
			ConditionExpression: condRotate,
			ExpressionAttributeValues: item{":true": valTrue, ":false": valFalse,
				":now": num(now), ":gid": str(next.GrantID)},
			ReturnValuesOnConditionCheckFailure: allOld,
		}},
		{Put: s.refreshTokenPut(next, now)},
		{ConditionCheck: s.grantNotRevoked(next.GrantID, now)},
	})
	if err == nil {
		return nil
	}
	if c, ok := canceled(err); ok {
		if old, ok := c.conditionFailed(0); ok {
			r := reader{it: old}
			switch {
			case old == nil || !live(old, now):
				return notFound(method, "refresh token")
			case r.s(attrGrantID) != next.GrantID:
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
	err := s.writer.Call(ctx, "UpdateItem", &update{
		TableName:                 s.tables.Tokens,
		Key:                       key,
		UpdateExpression:          "SET expires_at = :k",
		ConditionExpression:       condExtend,
		ExpressionAttributeValues: item{":k": epoch(until)},
	}, nil)
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
// The item carries a random nonce. Should the client retry a put whose first
// attempt landed (the response was lost), the retry fails its condition
// on the item it wrote itself; ALL_OLD returns that item, whose nonce
// tells the store the use was its own, not a replay.
func (s *Store) UseAssertionID(ctx context.Context, clientID, jti string, expiresAt time.Time) error {
	const method = "UseAssertionID"
	if clientID == "" || jti == "" {
		return fmt.Errorf("dynamostore: %s: empty client id or jti", method)
	}
	nonce := oauth.RandomToken()[:22]
	err := s.writer.Call(ctx, "PutItem", &put{
		TableName: s.tables.Tokens,
		Item: item{
			attrPK:        str(assertionIDKey(clientID, jti)),
			attrExpiresAt: epoch(expiresAt),
			attrNonce:     str(nonce),
		},
		ConditionExpression:                 condNewToken,
		ExpressionAttributeValues:           item{":now": num(s.now())},
		ReturnValuesOnConditionCheckFailure: allOld,
	}, nil)
	if old, ok := conditionFailed(err); ok {
		r := reader{it: old}
		if old != nil && r.s(attrNonce) == nonce {
			return nil // our own first attempt
		}
		return conflict(method, "client assertion id already used")
	}
	if err != nil {
		return fail(method, "PutItem", err, s.tables.Tokens)
	}
	return nil
}

// CreateSession stores a new session (conditional PutItem); ErrConflict if
// a live session has its hash.
func (s *Store) CreateSession(ctx context.Context, sess *oauth.Session) error {
	const method = "CreateSession"
	if sess.Hash == "" {
		return fmt.Errorf("dynamostore: %s: empty session hash", method)
	}
	err := s.writer.Call(ctx, "PutItem", &put{
		TableName:                 s.tables.Sessions,
		Item:                      sessionItem(sess),
		ConditionExpression:       condNewSession,
		ExpressionAttributeValues: item{":now": num(s.now())},
	}, nil)
	if _, ok := conditionFailed(err); ok {
		return conflict(method, "session already exists")
	}
	if err != nil {
		return fail(method, "PutItem", err, s.tables.Sessions)
	}
	return nil
}

// GetSession returns the unexpired session with this hash (strongly
// consistent GetItem: the sign-in that wrote it was an instant ago).
func (s *Store) GetSession(ctx context.Context, hash string) (*oauth.Session, error) {
	const method = "GetSession"
	if hash == "" {
		return nil, notFound(method, "session")
	}
	it, err := s.getItem(ctx, method, s.tables.Sessions, sessionKey(hash), true)
	if err != nil || it == nil || !live(it, s.now()) {
		return nil, orNotFound(err, method, "session")
	}
	sess, err := sessionFrom(it)
	if err != nil {
		return nil, corrupt(method, s.tables.Sessions, err)
	}
	return sess, nil
}

// DeleteSession deletes the session with this hash (DeleteItem); a missing
// session is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return s.deleteSessionsItem(ctx, "DeleteSession", hash)
}

// deleteSessionsItem deletes the sessions table's item with this key (a
// session, or a failed-login counter); a missing one is not an error.
func (s *Store) deleteSessionsItem(ctx context.Context, method, hash string) error {
	if hash == "" {
		return nil
	}
	err := s.writer.Call(ctx, "DeleteItem", &deleteItemInput{
		TableName: s.tables.Sessions,
		Key:       sessionKey(hash),
	}, nil)
	if err != nil {
		return fail(method, "DeleteItem", err, s.tables.Sessions)
	}
	return nil
}

// getItem reads the item with this key, nil if there is none.
func (s *Store) getItem(ctx context.Context, method, table string, key item, consistent bool) (item, error) {
	var out getItemOutput
	err := s.db.Call(ctx, "GetItem", &getItemInput{TableName: table, Key: key, ConsistentRead: consistent}, &out)
	if err != nil {
		return nil, fail(method, "GetItem", err, table)
	}
	return out.Item, nil
}

// orNotFound returns err, or ErrNotFound for what if err is nil.
func orNotFound(err error, method, what string) error {
	if err != nil {
		return err
	}
	return notFound(method, what)
}

// batchRetries is how often batchGetTokens asks again for keys DynamoDB
// left unprocessed, and batchBackoff the first wait (doubled each time).
const (
	batchRetries = 3
	batchBackoff = 25 * time.Millisecond
)

// batchGetTokens reads items of the tokens table in one strongly
// consistent BatchGetItem and returns those found by their pk. Keys
// DynamoDB leaves unprocessed (it does so only when throttled) are asked
// for again after a backoff, a few times, then the read is ErrUnavailable.
func (s *Store) batchGetTokens(ctx context.Context, method string, keys ...item) (map[string]item, error) {
	return s.batchGet(ctx, method, s.tables.Tokens, attrPK, keys...)
}

// batchGet is batchGetTokens for any table whose key is the S attribute
// keyAttr; it returns the items found by their key.
func (s *Store) batchGet(ctx context.Context, method, table, keyAttr string, keys ...item) (map[string]item, error) {
	req := map[string]keysAndAttributes{table: {Keys: keys, ConsistentRead: true}}
	found := make(map[string]item, len(keys))
	wait := batchBackoff
	for retries := 0; ; retries++ {
		var out batchGetItemOutput
		if err := s.db.Call(ctx, "BatchGetItem", &batchGetItemInput{RequestItems: req}, &out); err != nil {
			return nil, fail(method, "BatchGetItem", err, table)
		}
		for _, it := range out.Responses[table] {
			if pk := it[keyAttr]; pk.typ == typeS {
				found[pk.s] = it
			}
		}
		if len(out.UnprocessedKeys[table].Keys) == 0 {
			return found, nil
		}
		if retries == batchRetries {
			return nil, fmt.Errorf("dynamostore: %s: BatchGetItem %s: keys still unprocessed after %d retries: %w",
				method, table, batchRetries, oauth.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dynamostore: %s: BatchGetItem %s: %w", method, table, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
		req = out.UnprocessedKeys
	}
}

// throttled wraps err, a transaction cancelled for capacity, as
// ErrUnavailable and ErrNotWritten: a cancelled transaction applied nothing.
func throttled(method, call string, err error, tables ...string) error {
	return fmt.Errorf("dynamostore: %s: %s %s: %w: %w: %w",
		method, call, strings.Join(tables, ", "), oauth.ErrUnavailable, oauth.ErrNotWritten, err)
}
