// Package stores opens the store GATEHOUSE_STORE names, for
// app.Parts.Stores: the in-memory store, or DynamoDB through the AWS SDK's
// client (dynamostore.NewClient). It is a package of its own so that a
// program that serves no stored data (the metadata function) links no
// DynamoDB client.
package stores

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/config"
	"github.com/gatehouse/gatehouse/shared/store/dynamostore"
	"github.com/gatehouse/gatehouse/shared/store/memstore"
)

var _ app.StoreOpener = Open

// Open opens cfg.Store: a new, empty memstore ("memory", the default), or
// the DynamoDB tables cfg.Tables names ("dynamodb", config.DefaultTables
// when unset) through a client made from loadAWS's configuration. It makes
// no network call.
func Open(ctx context.Context, cfg config.Config, loadAWS app.AWSConfigLoader) (app.Storage, error) {
	return open(ctx, cfg, func(ctx context.Context) (*dynamodb.Client, error) {
		awsCfg, err := loadAWS(ctx)
		if err != nil {
			return nil, err
		}
		return dynamostore.NewClient(awsCfg), nil
	})
}

// WithDynamoDBClient returns an opener that uses client for
// GATEHOUSE_STORE=dynamodb instead of one made from the AWS configuration:
// the gatehouse command's own client, and tests that count or fail its
// calls.
func WithDynamoDBClient(client *dynamodb.Client) app.StoreOpener {
	return func(ctx context.Context, cfg config.Config, _ app.AWSConfigLoader) (app.Storage, error) {
		return open(ctx, cfg, func(context.Context) (*dynamodb.Client, error) { return client, nil })
	}
}

func open(ctx context.Context, cfg config.Config, client func(context.Context) (*dynamodb.Client, error)) (app.Storage, error) {
	switch cfg.Store {
	case config.StoreMemory, "":
		return memstore.New(), nil
	case config.StoreDynamoDB:
		db, err := client(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", config.EnvStore, config.StoreDynamoDB, err)
		}
		tables := cfg.Tables
		if tables == (config.Tables{}) {
			tables = config.DefaultTables()
		}
		return dynamostore.New(db, dynamostore.Tables(tables)), nil
	}
	return nil, fmt.Errorf("%s: unsupported store %q", config.EnvStore, cfg.Store)
}
