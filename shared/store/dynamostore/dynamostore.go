// Package dynamostore is Gatehouse's production oauth.Store: five DynamoDB
// tables reached through the AWS SDK's DynamoDB client (NewClient
// configures the one it is meant to run with), items marshalled by
// attributevalue from the struct types of items.go. docs/dynamodb.md
// describes the tables, their keys and attributes, and every access
// pattern.
//
// Each oauth.Store method makes one DynamoDB call (each of which the
// client may send up to MaxAttempts times). The exceptions:
// GetRefreshToken and AccessTokenRevoked ask again for keys their
// BatchGetItem left unprocessed (DynamoDB does so only when throttled);
// CountLoginAttempt, UncountLoginAttempt and ClearLoginFailures make one
// call per counter (and CountLoginAttempt a second, a PutItem, for a
// counter that expired but is not deleted yet). Single use, and the
// login throttle's limits, are enforced by condition expressions and
// transactions, never by read-then-write: RedeemCode is one
// TransactWriteItems whose conditions check the code, its grant and the
// first refresh token together. Every read checks expires_at itself,
// since TTL deletes items late; the conditions of writes check it too,
// against the same clock (Store.Now).
package dynamostore

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithyrand "github.com/aws/smithy-go/rand"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

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

	db     *dynamodb.Client
	tables Tables
	// scanLimit, if not zero, is the Limit of every Scan (tests).
	scanLimit int32
}

var _ oauth.Store = (*Store)(nil)

// New returns a store on the given tables, reached through db (made by
// NewClient, or any DynamoDB client). It makes no network call.
func New(db *dynamodb.Client, tables Tables) *Store {
	return &Store{Now: time.Now, db: db, tables: tables}
}

// now is the store's clock in epoch seconds, the unit of expires_at. With
// expires_at = floor(ExpiresAt), "now < expires_at" holds exactly when
// floor(now) < expires_at, so reads and conditions agree.
func (s *Store) now() int64 { return s.Now().Unix() }

// Condition expressions (ConditionExpression).
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
	return s.getClient(ctx, "GetClient", id, false)
}

// ReloadClient returns the client with this ID as last written (GetItem,
// strongly consistent): what AuthenticateClient reads when a secret fails
// against an earlier read, so that a secret rotated a moment ago works
// (oauth.ClientReloader).
func (s *Store) ReloadClient(ctx context.Context, id string) (*oauth.Client, error) {
	return s.getClient(ctx, "ReloadClient", id, true)
}

func (s *Store) getClient(ctx context.Context, method, id string, consistent bool) (*oauth.Client, error) {
	if id == "" { // DynamoDB refuses empty keys
		return nil, notFound(method, "client")
	}
	it, err := s.getItem(ctx, method, s.tables.Clients, clientKey(id), consistent)
	if err != nil || it == nil {
		return nil, orNotFound(err, method, "client")
	}
	c, err := clientOf(it)
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
	u, err := userOf(it)
	if err != nil {
		return nil, corrupt(method, s.tables.Users, err)
	}
	return u, nil
}

// getItem reads the item with this key (GetItem), nil if there is none.
func (s *Store) getItem(ctx context.Context, method, table string, key item, consistent bool) (item, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &table,
		Key:            key,
		ConsistentRead: aws.Bool(consistent),
	})
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

// transact runs the actions in one TransactWriteItems, with a fresh
// ClientRequestToken: the client's retries of this call (after a server
// fault or a lost response) repeat the token, and DynamoDB treats a repeat
// within 10 minutes as the same transaction, so one that already landed is
// neither applied again nor reported as failed.
func (s *Store) transact(ctx context.Context, actions []types.TransactWriteItem) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems:      actions,
		ClientRequestToken: aws.String(requestToken()),
	})
	return err
}

// requestToken returns a random ClientRequestToken, a version 4 UUID as
// the SDK would set (at most 36 characters).
func requestToken() string {
	token, _ := smithyrand.NewUUID(rand.Reader).GetUUID() // crypto/rand never fails (Go 1.24+)
	return token
}

// batchRetries is how often batchGet asks again for keys DynamoDB left
// unprocessed, and batchBackoff the first wait (doubled each time).
const (
	batchRetries = 3
	batchBackoff = 25 * time.Millisecond
)

// batchGet reads items of table, whose key is the S attribute keyAttr, in
// one strongly consistent BatchGetItem, and returns those found by their
// key. Keys DynamoDB leaves unprocessed (it does so only when throttled)
// are asked for again after a backoff, a few times, then the read is
// ErrUnavailable.
func (s *Store) batchGet(ctx context.Context, method, table, keyAttr string, keys ...item) (map[string]item, error) {
	req := map[string]types.KeysAndAttributes{table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	found := make(map[string]item, len(keys))
	wait := batchBackoff
	for retries := 0; ; retries++ {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fail(method, "BatchGetItem", err, table)
		}
		for _, it := range out.Responses[table] {
			if key := stringAttr(it, keyAttr); key != "" {
				found[key] = it
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

// batchGetTokens is batchGet on the tokens table.
func (s *Store) batchGetTokens(ctx context.Context, method string, keys ...item) (map[string]item, error) {
	return s.batchGet(ctx, method, s.tables.Tokens, attrPK, keys...)
}

// put sends p, built as a transaction's Put, on its own: a PutItem. Like
// every single-item write of the store, it retries transaction conflicts.
func (s *Store) put(ctx context.Context, p *types.Put) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           p.TableName,
		Item:                                p.Item,
		ConditionExpression:                 p.ConditionExpression,
		ExpressionAttributeNames:            p.ExpressionAttributeNames,
		ExpressionAttributeValues:           p.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: p.ReturnValuesOnConditionCheckFailure,
	}, retryTransactionConflicts)
	return err
}

// update sends u, built as a transaction's Update, on its own: an
// UpdateItem, retrying transaction conflicts.
func (s *Store) update(ctx context.Context, u *types.Update) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           u.TableName,
		Key:                                 u.Key,
		UpdateExpression:                    u.UpdateExpression,
		ConditionExpression:                 u.ConditionExpression,
		ExpressionAttributeNames:            u.ExpressionAttributeNames,
		ExpressionAttributeValues:           u.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: u.ReturnValuesOnConditionCheckFailure,
	}, retryTransactionConflicts)
	return err
}
