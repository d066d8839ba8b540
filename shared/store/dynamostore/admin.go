package dynamostore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

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
	return s.put(ctx, method, s.tables.Clients, clientItem(c), cond, "client already exists")
}

// DeleteClient deletes the client with this ID; ErrNotFound if there is
// none (conditional DeleteItem).
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.delete(ctx, "DeleteClient", s.tables.Clients, id, clientKey, "attribute_exists(client_id)", "client")
}

// ListClients returns every client, sorted by ID (a strongly consistent
// Scan, page by page).
func (s *Store) ListClients(ctx context.Context) ([]*oauth.Client, error) {
	const method = "ListClients"
	var out []*oauth.Client
	pages := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
		TableName:      &s.tables.Clients,
		ConsistentRead: aws.Bool(true),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fail(method, "Scan", err, s.tables.Clients)
		}
		for _, it := range page.Items {
			c, err := clientFrom(it)
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
	return s.put(ctx, method, s.tables.Users, userItem(u), cond, "user already exists")
}

// DeleteUser deletes the user with this username; ErrNotFound if there is
// none (conditional DeleteItem).
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	return s.delete(ctx, "DeleteUser", s.tables.Users, username, userKey, "attribute_exists(username)", "user")
}

// put writes it, under condition cond if it is not empty.
func (s *Store) put(ctx context.Context, method, table string, it item, cond, exists string) error {
	in := &dynamodb.PutItemInput{TableName: &table, Item: it}
	if cond != "" {
		in.ConditionExpression = &cond
	}
	_, err := s.db.PutItem(ctx, in)
	if _, ok := conditionFailed(err); ok {
		return conflict(method, exists)
	}
	if err != nil {
		return fail(method, "PutItem", err, table)
	}
	return nil
}

// delete deletes the item key(id), which must exist (cond).
func (s *Store) delete(ctx context.Context, method, table, id string, key func(string) item, cond, what string) error {
	if id == "" {
		return notFound(method, what)
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           &table,
		Key:                 key(id),
		ConditionExpression: &cond,
	})
	if _, ok := conditionFailed(err); ok {
		return notFound(method, what)
	}
	if err != nil {
		return fail(method, "DeleteItem", err, table)
	}
	return nil
}

// tableSpec is one table's shape: its partition key (a string) and whether
// its items expire through TTL on expires_at.
type tableSpec struct {
	name, key string
	ttl       bool
}

func (s *Store) specs() []tableSpec {
	return []tableSpec{
		{s.tables.Clients, attrClientID, false},
		{s.tables.Users, attrUsername, false},
		{s.tables.Codes, attrCodeHash, true},
		{s.tables.Tokens, attrPK, true},
		{s.tables.Sessions, attrSessionHash, true},
	}
}

// tableWait bounds how long CreateTables waits for one table to become
// ACTIVE.
const tableWait = 5 * time.Minute

// CreateTables creates the tables that are missing (on-demand capacity,
// PAY_PER_REQUEST; server-side encryption enabled, with the AWS managed KMS
// key aws/dynamodb), waits until every table is ACTIVE, and enables TTL on expires_at for the
// codes, tokens and sessions tables where it is not enabled yet. Existing
// tables are left alone, but one whose partition key differs from the
// design, or whose TTL is on another attribute, is an error. Running it
// again is harmless.
func (s *Store) CreateTables(ctx context.Context) error {
	const method = "CreateTables"
	var pending []string // tables not ACTIVE yet
	for _, t := range s.specs() {
		desc, err := s.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &t.name})
		var rnf *types.ResourceNotFoundException
		switch {
		case errors.As(err, &rnf):
			status, err := s.createTable(ctx, t)
			if err != nil {
				return err
			}
			if status != types.TableStatusActive {
				pending = append(pending, t.name)
			}
		case err != nil:
			return fail(method, "DescribeTable", err, t.name)
		default:
			if err := checkKey(desc.Table, t); err != nil {
				return err
			}
			if desc.Table.TableStatus != types.TableStatusActive {
				pending = append(pending, t.name)
			}
		}
	}
	waiter := dynamodb.NewTableExistsWaiter(s.db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 5*time.Second
	})
	for _, name := range pending {
		if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &name}, tableWait); err != nil {
			return fmt.Errorf("dynamostore: %s: waiting for table %s to become ACTIVE: %w", method, name, err)
		}
	}
	for _, t := range s.specs() {
		if t.ttl {
			if err := s.enableTTL(ctx, t.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// createTable creates table t and returns its status. A table that
// appeared meanwhile (another CreateTables) is fine.
func (s *Store) createTable(ctx context.Context, t tableSpec) (types.TableStatus, error) {
	out, err := s.db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: &t.name,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: &t.key, AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: &t.key, KeyType: types.KeyTypeHash},
		},
		BillingMode:      types.BillingModePayPerRequest,
		SSESpecification: &types.SSESpecification{Enabled: aws.Bool(true)},
	})
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return types.TableStatusCreating, nil
	}
	if err != nil {
		return "", fail("CreateTables", "CreateTable", err, t.name)
	}
	return out.TableDescription.TableStatus, nil
}

// checkKey reports an existing table whose partition key is not the
// design's.
func checkKey(desc *types.TableDescription, t tableSpec) error {
	for _, k := range desc.KeySchema {
		if k.KeyType == types.KeyTypeHash && aws.ToString(k.AttributeName) == t.key && len(desc.KeySchema) == 1 {
			return nil
		}
	}
	return fmt.Errorf("dynamostore: CreateTables: table %s exists with another key schema "+
		"(want partition key %s of type S and no sort key); it was left alone", t.name, t.key)
}

// enableTTL turns on TTL on expires_at for table, unless it is on already.
func (s *Store) enableTTL(ctx context.Context, table string) error {
	const method = "CreateTables"
	out, err := s.db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &table})
	if err != nil {
		return fail(method, "DescribeTimeToLive", err, table)
	}
	d := out.TimeToLiveDescription
	if d == nil {
		d = &types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusDisabled}
	}
	switch d.TimeToLiveStatus {
	case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
		if name := aws.ToString(d.AttributeName); name != attrExpiresAt {
			return fmt.Errorf("dynamostore: %s: table %s has TTL on %q, want %q; it was left alone",
				method, table, name, attrExpiresAt)
		}
		return nil
	case types.TimeToLiveStatusDisabling:
		return fmt.Errorf("dynamostore: %s: TTL of table %s is being disabled; run again once it is DISABLED", method, table)
	}
	_, err = s.db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: &table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrExpiresAt),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fail(method, "UpdateTimeToLive", err, table)
	}
	return nil
}
