package functions_test

import (
	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/app/stores"
	"github.com/gatehouse/gatehouse/shared/httpapi/pages"
	"github.com/gatehouse/gatehouse/shared/passwords"
)

// functionParts returns the app.Parts functions/<name>/main.go passes, so
// that the in-process tests build each handler as its main does.
// TestFunctionDependencies checks the mains link no more than this, and
// the end-to-end tests run the mains themselves.
func functionParts(name string) app.Parts {
	switch name {
	case app.FunctionAuthorize:
		return allParts()
	case app.FunctionToken:
		return app.Parts{Stores: stores.Open, Passwords: passwords.DefaultScheme()}
	case app.FunctionIntrospect, app.FunctionRevoke, app.FunctionUserInfo:
		return app.Parts{Stores: stores.Open}
	}
	return app.Parts{}
}

// allParts are what `gatehouse serve` links: every endpoint on one app.
func allParts() app.Parts {
	return app.Parts{Stores: stores.Open, Passwords: passwords.DefaultScheme(), Pages: pages.New()}
}
