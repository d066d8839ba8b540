package app

import (
	"fmt"
	"net/http"
	"strings"
)

// Names of the Lambda functions, one per endpoint group (functions/<name>).
const (
	FunctionAuthorize  = "authorize"  // GET/POST /authorize, POST /logout
	FunctionToken      = "token"      // POST /token
	FunctionIntrospect = "introspect" // POST /introspect
	FunctionRevoke     = "revoke"     // POST /revoke
	FunctionMetadata   = "metadata"   // GET /.well-known/*
)

// Functions lists every Lambda function name.
var Functions = []string{FunctionAuthorize, FunctionToken, FunctionIntrospect, FunctionRevoke, FunctionMetadata}

// FunctionHandler returns the handler the Lambda function name serves. The
// functions/* mains and their tests both get their handler here.
func FunctionHandler(a *App, name string) (http.Handler, error) {
	switch name {
	case FunctionAuthorize:
		return a.Handlers.Authorize(), nil
	case FunctionToken:
		return a.Handlers.Token(), nil
	case FunctionIntrospect:
		return a.Handlers.Introspect(), nil
	case FunctionRevoke:
		return a.Handlers.Revoke(), nil
	case FunctionMetadata:
		return a.Handlers.Metadata(), nil
	}
	return nil, fmt.Errorf("app: unknown function %q (want one of %s)", name, strings.Join(Functions, ", "))
}
