package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

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

// Waiting for a table to become ACTIVE (the SDK's TableExists waiter): at
// most tableWait, polling DescribeTable from every tableWaitMin up to
// every tableWaitMax (the waiter's defaults, 20 s and 120 s, suit a
// console more than a tables command whose tables take seconds).
const (
	tableWait    = 5 * time.Minute
	tableWaitMin = time.Second
	tableWaitMax = 5 * time.Second
)

// CreateTables creates the tables that are missing (on-demand capacity,
// PAY_PER_REQUEST; server-side encryption enabled, with the AWS managed KMS
// key aws/dynamodb), waits until every table is ACTIVE, and enables TTL on
// expires_at for the codes, tokens and sessions tables where it is not
// enabled yet. Existing tables are left alone, but one whose partition key
// differs from the design, or whose TTL is on another attribute, is an
// error. Running it again is harmless.
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
			if t.name == s.tables.Users {
				if err := s.ensureSubjectIndex(ctx, desc.Table); err != nil {
					return err
				}
			}
			if desc.Table.TableStatus != types.TableStatusActive {
				pending = append(pending, t.name)
			}
		}
	}
	waiter := dynamodb.NewTableExistsWaiter(s.db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = tableWaitMin, tableWaitMax
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

// createTable creates table t (CreateTable) and returns its status. A
// table that appeared meanwhile (another CreateTables) is fine.
func (s *Store) createTable(ctx context.Context, t tableSpec) (types.TableStatus, error) {
	in := &dynamodb.CreateTableInput{
		TableName:            &t.name,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: &t.key, AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: &t.key, KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
		SSESpecification:     &types.SSESpecification{Enabled: aws.Bool(true)},
	}
	if t.name == s.tables.Users {
		in.AttributeDefinitions = append(in.AttributeDefinitions, subjectAttribute())
		in.GlobalSecondaryIndexes = []types.GlobalSecondaryIndex{subjectIndex()}
	}
	out, err := s.db.CreateTable(ctx, in)
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
	if ks := desc.KeySchema; len(ks) == 1 && ks[0].KeyType == types.KeyTypeHash && aws.ToString(ks[0].AttributeName) == t.key {
		return nil
	}
	return fmt.Errorf("dynamostore: CreateTables: table %s exists with another key schema "+
		"(want partition key %s of type S and no sort key); it was left alone", t.name, t.key)
}

// enableTTL turns on TTL on expires_at for table (UpdateTimeToLive), unless
// DescribeTimeToLive says it is on already.
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
