package awsjson

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The configuration sources' interfaces, as the SDK's service clients read
// aws.Config.ConfigSources (internal/configsources): both the SDK's
// config.LoadDefaultConfig and Gatehouse's environment-only configuration
// implement them.
type (
	serviceEndpointSource interface {
		GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
	}
	ignoreEndpointsSource interface {
		GetIgnoreConfiguredEndpoints(ctx context.Context) (bool, bool, error)
	}
	fipsSource interface {
		GetUseFIPSEndpoint(ctx context.Context) (aws.FIPSEndpointState, bool, error)
	}
	dualStackSource interface {
		GetUseDualStackEndpoint(ctx context.Context) (aws.DualStackEndpointState, bool, error)
	}
)

// ErrNoRegion is New's error when the configuration names neither a
// region nor an endpoint URL.
var ErrNoRegion = errors.New("no AWS region (set AWS_REGION) and no endpoint URL")

// resolveEndpoint returns the service's endpoint, as the SDK resolves it:
//
//  1. the service's own configured URL (AWS_ENDPOINT_URL_<ID>, or a
//     profile's services section), unless configured URLs are ignored;
//  2. aws.Config.BaseEndpoint (AWS_ENDPOINT_URL);
//  3. the regional endpoint https://<prefix>[-fips].<region>.<suffix>,
//     where the suffix is amazonaws.com (amazonaws.com.cn in China), or
//     api.aws for dual-stack (api.amazonwebservices.com.cn in China).
func resolveEndpoint(cfg aws.Config, svc Service) (string, error) {
	ctx := context.Background()
	ignore := false
	for _, src := range cfg.ConfigSources {
		if s, ok := src.(ignoreEndpointsSource); ok {
			if v, found, err := s.GetIgnoreConfiguredEndpoints(ctx); err == nil && found {
				ignore = v
				break
			}
		}
	}
	if !ignore {
		for _, src := range cfg.ConfigSources {
			if s, ok := src.(serviceEndpointSource); ok {
				if v, found, err := s.GetServiceBaseEndpoint(ctx, svc.ID); err == nil && found && v != "" {
					return checkEndpoint(v)
				}
			}
		}
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return checkEndpoint(*cfg.BaseEndpoint)
	}

	region := cfg.Region
	if region == "" {
		return "", fmt.Errorf("%s: %w", svc.ID, ErrNoRegion)
	}
	if strings.ContainsAny(region, "/:@?#. ") {
		return "", fmt.Errorf("%s: invalid AWS region %q", svc.ID, region)
	}
	fips, dualStack := false, false
	for _, src := range cfg.ConfigSources {
		if s, ok := src.(fipsSource); ok && !fips {
			v, found, err := s.GetUseFIPSEndpoint(ctx)
			fips = err == nil && found && v == aws.FIPSEndpointStateEnabled
		}
		if s, ok := src.(dualStackSource); ok && !dualStack {
			v, found, err := s.GetUseDualStackEndpoint(ctx)
			dualStack = err == nil && found && v == aws.DualStackEndpointStateEnabled
		}
	}
	host := svc.EndpointPrefix
	if fips {
		host += "-fips"
	}
	china := strings.HasPrefix(region, "cn-")
	var suffix string
	switch {
	case dualStack && china:
		suffix = "api.amazonwebservices.com.cn"
	case dualStack:
		suffix = "api.aws"
	case china:
		suffix = "amazonaws.com.cn"
	default:
		suffix = "amazonaws.com"
	}
	return "https://" + host + "." + region + "." + suffix, nil
}

// checkEndpoint validates a configured endpoint URL and drops its trailing
// slash.
func checkEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("invalid AWS endpoint URL %q: want http(s)://host[:port][/path]", raw)
	}
	return strings.TrimSuffix(raw, "/"), nil
}
