package awsjson_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/gatehouse/gatehouse/shared/awsjson"
)

// fakeSource answers the endpoint questions of aws.Config.ConfigSources,
// as the SDK's environment and shared-file configurations do.
type fakeSource struct {
	services  map[string]string // SDK ID -> endpoint URL
	ignore    *bool
	fips      aws.FIPSEndpointState
	dualStack aws.DualStackEndpointState
}

func (s fakeSource) GetServiceBaseEndpoint(_ context.Context, id string) (string, bool, error) {
	v, ok := s.services[id]
	return v, ok, nil
}

func (s fakeSource) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	if s.ignore == nil {
		return false, false, nil
	}
	return *s.ignore, true, nil
}

func (s fakeSource) GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error) {
	return s.fips, s.fips != aws.FIPSEndpointStateUnset, nil
}

func (s fakeSource) GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error) {
	return s.dualStack, s.dualStack != aws.DualStackEndpointStateUnset, nil
}

// TestEndpoint checks the endpoint each configuration resolves to, in the
// SDK's order: the service's own URL, the base URL, the regional endpoint
// with its FIPS and dual-stack variants.
func TestEndpoint(t *testing.T) {
	yes := true
	local := map[string]string{"DynamoDB": "http://127.0.0.1:8000/", "KMS": "http://127.0.0.1:9000"}
	cases := []struct {
		name   string
		region string
		base   string
		source *fakeSource
		want   string
	}{
		{"regional", "eu-west-1", "", nil, "https://dynamodb.eu-west-1.amazonaws.com"},
		{"China", "cn-north-1", "", nil, "https://dynamodb.cn-north-1.amazonaws.com.cn"},
		{"GovCloud", "us-gov-west-1", "", nil, "https://dynamodb.us-gov-west-1.amazonaws.com"},
		{"FIPS", "us-east-1", "", &fakeSource{fips: aws.FIPSEndpointStateEnabled}, "https://dynamodb-fips.us-east-1.amazonaws.com"},
		{"FIPS disabled", "us-east-1", "", &fakeSource{fips: aws.FIPSEndpointStateDisabled}, "https://dynamodb.us-east-1.amazonaws.com"},
		{"dual-stack", "us-east-1", "", &fakeSource{dualStack: aws.DualStackEndpointStateEnabled}, "https://dynamodb.us-east-1.api.aws"},
		{"dual-stack FIPS", "us-east-1", "", &fakeSource{fips: aws.FIPSEndpointStateEnabled, dualStack: aws.DualStackEndpointStateEnabled},
			"https://dynamodb-fips.us-east-1.api.aws"},
		{"dual-stack China", "cn-northwest-1", "", &fakeSource{dualStack: aws.DualStackEndpointStateEnabled},
			"https://dynamodb.cn-northwest-1.api.amazonwebservices.com.cn"},
		{"base URL", "eu-west-1", "http://localhost:4566", nil, "http://localhost:4566"},
		{"base URL without region", "", "http://localhost:4566", nil, "http://localhost:4566"},
		{"service URL wins", "eu-west-1", "http://localhost:4566", &fakeSource{services: local}, "http://127.0.0.1:8000"},
		{"another service's URL ignored", "eu-west-1", "", &fakeSource{services: map[string]string{"KMS": "http://k"}},
			"https://dynamodb.eu-west-1.amazonaws.com"},
		{"configured URLs ignored", "eu-west-1", "", &fakeSource{services: local, ignore: &yes}, "https://dynamodb.eu-west-1.amazonaws.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := aws.Config{Region: tc.region}
			if tc.base != "" {
				cfg.BaseEndpoint = aws.String(tc.base)
			}
			if tc.source != nil {
				cfg.ConfigSources = []any{*tc.source}
			}
			c, err := awsjson.New(cfg, testService, awsjson.Options{})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if c.Endpoint() != tc.want {
				t.Errorf("endpoint %s, want %s", c.Endpoint(), tc.want)
			}
		})
	}
}

// TestEndpointErrors checks the configurations New refuses.
func TestEndpointErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  aws.Config
	}{
		{"no region, no URL", aws.Config{}},
		{"region with a slash", aws.Config{Region: "eu-west-1/x"}},
		{"region with a dot", aws.Config{Region: "evil.com#"}},
		{"URL without scheme", aws.Config{BaseEndpoint: aws.String("localhost:8000")}},
		{"URL with another scheme", aws.Config{BaseEndpoint: aws.String("ftp://localhost")}},
		{"URL with a query", aws.Config{BaseEndpoint: aws.String("http://localhost:8000/?x=1")}},
		{"service URL malformed", aws.Config{Region: "eu-west-1", ConfigSources: []any{fakeSource{services: map[string]string{"DynamoDB": "::"}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := awsjson.New(tc.cfg, testService, awsjson.Options{}); err == nil {
				t.Errorf("New accepted it, endpoint %s", c.Endpoint())
			}
		})
	}
	if _, err := awsjson.New(aws.Config{}, testService, awsjson.Options{}); !errors.Is(err, awsjson.ErrNoRegion) {
		t.Errorf("no region: %v, want ErrNoRegion", err)
	}
}
