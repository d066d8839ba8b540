package dynamostore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The admin methods below serve the seed loader and the CLI; no Lambda
// calls them.

// PutClient creates the client or replaces the one with the same ID
// (PutItem).
func (s *Store) PutClient(ctx context.Context, c *oauth.Client) error {
	return s.putClient(ctx, "PutClient", c, "")
}

// CreateClient creates the client; ErrConflict if its ID is taken
// (conditional PutItem).
func (s *Store) CreateClient(ctx context.Context, c *oauth.Client) error {
	return s.putClient(ctx, "CreateClient", c, "attribute_not_exists(client_id)")
}

func (s *Store) putClient(ctx context.Context, method string, c *oauth.Client, cond string) error {
	if c.ID == "" {
		return fmt.Errorf("dynamostore: %s: empty client id", method)
	}
	return s.putRecord(ctx, method, s.tables.Clients, itemOfClient(c), cond, "client already exists")
}

// ReplaceClientSecret stores c, a client read with secret hash oldHash and
// given a new secret (oauth.Client.RotateSecret), only if the stored
// secret is still oldHash (conditional PutItem): of two rotations at once,
// one fails with ErrConflict instead of printing a secret that was never
// stored. ErrNotFound if the client is gone.
func (s *Store) ReplaceClientSecret(ctx context.Context, c *oauth.Client, oldHash string) error {
	const method = "ReplaceClientSecret"
	if c.ID == "" {
		return notFound(method, "client")
	}
	cond := "secret_hash = :old"
	err := s.put(ctx, &types.Put{
		TableName:                           &s.tables.Clients,
		Item:                                itemOfClient(c),
		ConditionExpression:                 &cond,
		ExpressionAttributeValues:           item{":old": str(oldHash)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		if old == nil {
			return notFound(method, "client")
		}
		return conflict(method, "the client's secret changed meanwhile")
	}
	if err != nil {
		return fail(method, "PutItem", err, s.tables.Clients)
	}
	return nil
}

// DeleteClient deletes the client with this ID; ErrNotFound if there is
// none (conditional DeleteItem).
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.deleteRecord(ctx, "DeleteClient", s.tables.Clients, id, clientKey, "attribute_exists(client_id)", "client")
}

// ListClients returns every client, sorted by ID (a strongly consistent
// Scan, page by page).
func (s *Store) ListClients(ctx context.Context) ([]*oauth.Client, error) {
	const method = "ListClients"
	in := &dynamodb.ScanInput{TableName: &s.tables.Clients, ConsistentRead: aws.Bool(true)}
	if s.scanLimit > 0 {
		in.Limit = &s.scanLimit
	}
	var out []*oauth.Client
	for pages := dynamodb.NewScanPaginator(s.db, in); pages.HasMorePages(); {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fail(method, "Scan", err, s.tables.Clients)
		}
		for _, it := range page.Items {
			c, err := clientOf(it)
			if err != nil {
				return nil, corrupt(method, s.tables.Clients, err)
			}
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *oauth.Client) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// PutUser creates the user or replaces the one with the same username
// (PutItem).
func (s *Store) PutUser(ctx context.Context, u *oauth.User) error {
	return s.putUser(ctx, "PutUser", u, "")
}

// CreateUser creates the user; ErrConflict if the username is taken
// (conditional PutItem).
func (s *Store) CreateUser(ctx context.Context, u *oauth.User) error {
	return s.putUser(ctx, "CreateUser", u, "attribute_not_exists(username)")
}

func (s *Store) putUser(ctx context.Context, method string, u *oauth.User, cond string) error {
	if u.Username == "" {
		return fmt.Errorf("dynamostore: %s: empty username", method)
	}
	return s.putRecord(ctx, method, s.tables.Users, itemOfUser(u), cond, "user already exists")
}

// DeleteUser deletes the user with this username; ErrNotFound if there is
// none (conditional DeleteItem).
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	return s.deleteRecord(ctx, "DeleteUser", s.tables.Users, username, userKey, "attribute_exists(username)", "user")
}

// putRecord writes it, under condition cond if it is not empty.
func (s *Store) putRecord(ctx context.Context, method, table string, it item, cond, exists string) error {
	p := &types.Put{TableName: &table, Item: it}
	if cond != "" {
		p.ConditionExpression = &cond
	}
	err := s.put(ctx, p)
	if _, ok := conditionFailed(err); ok {
		return conflict(method, exists)
	}
	if err != nil {
		return fail(method, "PutItem", err, table)
	}
	return nil
}

// deleteRecord deletes the item key(id), which must exist (cond).
func (s *Store) deleteRecord(ctx context.Context, method, table, id string, key func(string) item, cond, what string) error {
	if id == "" {
		return notFound(method, what)
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           &table,
		Key:                 key(id),
		ConditionExpression: &cond,
	}, retryTransactionConflicts)
	if _, ok := conditionFailed(err); ok {
		return notFound(method, what)
	}
	if err != nil {
		return fail(method, "DeleteItem", err, table)
	}
	return nil
}
