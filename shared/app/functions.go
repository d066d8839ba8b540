package app

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Names of the Lambda functions, one per endpoint group (functions/<name>).
const (
	FunctionAuthorize  = "authorize"  // GET/POST /authorize, POST /logout
	FunctionToken      = "token"      // POST /token
	FunctionIntrospect = "introspect" // POST /introspect
	FunctionRevoke     = "revoke"     // POST /revoke
	FunctionMetadata   = "metadata"   // GET /.well-known/*
	FunctionUserInfo   = "userinfo"   // GET/POST /userinfo (OpenID Connect Core 1.0 §5.3)
)

// Functions lists every Lambda function name.
var Functions = []string{FunctionAuthorize, FunctionToken, FunctionIntrospect, FunctionRevoke, FunctionMetadata, FunctionUserInfo}

// FunctionHandler returns the handler the Lambda function name serves. The
// functions/* mains and their tests both get their handler here. It fails
// when the app lacks a part the function needs (see Parts).
func FunctionHandler(a *App, name string) (http.Handler, error) {
	if name == FunctionMetadata {
		return a.Metadata(), nil
	}
	if !slices.Contains(Functions, name) {
		return nil, fmt.Errorf("app: unknown function %q (want one of %s)", name, strings.Join(Functions, ", "))
	}
	var missing []string
	if a.Handlers == nil {
		missing = append(missing, "a store (Parts.Stores)")
	}
	if (name == FunctionAuthorize || name == FunctionToken) && a.parts.Passwords == nil {
		missing = append(missing, "password checking (Parts.Passwords)")
	}
	if name == FunctionAuthorize && a.parts.Pages == nil {
		missing = append(missing, "the sign-in pages (Parts.Pages)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("app: function %s needs %s", name, strings.Join(missing, " and "))
	}
	switch name {
	case FunctionAuthorize:
		return a.Handlers.Authorize(), nil
	case FunctionToken:
		return a.Handlers.Token(), nil
	case FunctionIntrospect:
		return a.Handlers.Introspect(), nil
	case FunctionUserInfo:
		return a.Handlers.UserInfo(), nil
	default:
		return a.Handlers.Revoke(), nil
	}
}
