// Package deploy holds the checks of template.yaml, the AWS SAM template
// that deploys Gatehouse to AWS (make deploy). The checks are its tests:
// template_test.go runs them on the template, and on deliberately broken
// copies of it to show that each one catches what it is meant to.
//
// No SAM CLI or cfn-lint can run where these tests run, so they parse the
// template themselves (gopkg.in/yaml.v3, with CloudFormation's short-form
// intrinsic tags), evaluate its intrinsic functions for sample parameter
// values, and check resource types and property names against the
// CloudFormation and SAM schemas of the npm package
// @aws-cdk/aws-service-spec, pinned in tools/cfn-spec and installed by
// `make test-deps`.
package deploy
