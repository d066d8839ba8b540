package storetest

import (
	"reflect"
	"sync"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The users' OpenID Connect cases: subjects and claims (OpenID Connect
// Core 1.0 §2, §5.1, §5.3).
func init() {
	suite = append(suite, group{"UserOpenID", []testCase{
		{"ClaimsRoundTrip", userClaimsRoundTrip},
		{"BySubject", userBySubject},
		{"BySubjectNotFound", userBySubjectNotFound},
		{"AssignSubject", userAssignSubject},
		{"AssignSubjectKeepsExisting", userAssignSubjectKeeps},
		{"AssignSubjectMissingUser", userAssignSubjectMissing},
		{"AssignSubjectConcurrently", userAssignSubjectConcurrently},
	}})
}

func yes() *bool { b := true; return &b }

// newClaimedUser is newUser with every claim set.
func (e *env) newClaimedUser() *oauth.User {
	u := e.newUser()
	no := false
	u.Claims = &oauth.UserClaims{
		Name: "Alice Liddell", GivenName: "Alice", FamilyName: "Liddell", MiddleName: "Pleasance",
		Nickname: "Al", PreferredUsername: "alice", Profile: "https://example.com/alice",
		Picture: "https://example.com/alice.png", Website: "https://alice.example",
		Email: "alice@example.com", EmailVerified: yes(), Gender: "female", Birthdate: "1852-05-04",
		Zoneinfo: "Europe/London", Locale: "en-GB", PhoneNumber: "+441234567890", PhoneNumberVerified: &no,
		Address: &oauth.Address{Formatted: "Christ Church, Oxford", StreetAddress: "St Aldate's",
			Locality: "Oxford", Region: "Oxfordshire", PostalCode: "OX1 1DP", Country: "GB"},
		UpdatedAt: 1700000000,
	}
	return u
}

func userClaimsRoundTrip(e *env) {
	u := e.newClaimedUser()
	e.must(e.h.Admin.PutUser(e.ctx, u), "PutUser")
	got, err := e.h.Store.GetUser(e.ctx, u.Username)
	e.must(err, "GetUser")
	e.wantSameUser("GetUser", got, u)
}

// wantSameUser is wantEqual for users with claims, which it compares
// deeply (wantEqual compares pointer fields by address).
func (e *env) wantSameUser(what string, got, want *oauth.User) {
	e.Helper()
	if got == nil {
		e.Fatalf("%s returned a nil user", what)
	}
	if !reflect.DeepEqual(got.Claims, want.Claims) {
		e.Fatalf("%s returned claims %+v, want %+v", what, got.Claims, want.Claims)
	}
	g, w := *got, *want
	g.Claims, w.Claims = nil, nil
	e.wantEqual(what, &g, &w)
}

func userBySubject(e *env) {
	u := e.newClaimedUser()
	e.must(e.h.Admin.PutUser(e.ctx, u), "PutUser")
	other := e.newUser()
	e.must(e.h.Admin.PutUser(e.ctx, other), "PutUser")
	got, err := e.h.Store.GetUserBySubject(e.ctx, u.Subject)
	e.must(err, "GetUserBySubject")
	if got.Username != u.Username || got.Subject != u.Subject {
		e.Fatalf("GetUserBySubject(%q) = user %q (sub %q), want %q", u.Subject, got.Username, got.Subject, u.Username)
	}
	if !reflect.DeepEqual(got.Claims, u.Claims) {
		e.Fatalf("GetUserBySubject returned claims %+v, want %+v", got.Claims, u.Claims)
	}
}

func userBySubjectNotFound(e *env) {
	_, err := e.h.Store.GetUserBySubject(e.ctx, "sub-"+id())
	e.wantErr(err, oauth.ErrNotFound, "GetUserBySubject of an unknown subject")
	_, err = e.h.Store.GetUserBySubject(e.ctx, "")
	e.wantErr(err, oauth.ErrNotFound, "GetUserBySubject of an empty subject")
	// A username is not a subject.
	u := e.newUser()
	e.must(e.h.Admin.PutUser(e.ctx, u), "PutUser")
	_, err = e.h.Store.GetUserBySubject(e.ctx, u.Username)
	e.wantErr(err, oauth.ErrNotFound, "GetUserBySubject of a username")
}

func userAssignSubject(e *env) {
	u := e.newUser()
	u.Subject = ""
	e.must(e.h.Admin.PutUser(e.ctx, u), "PutUser")
	sub := oauth.NewSubject()
	got, err := e.h.Store.AssignSubject(e.ctx, u.Username, sub)
	e.must(err, "AssignSubject")
	if got != sub {
		e.Fatalf("AssignSubject = %q, want the new %q", got, sub)
	}
	after, err := e.h.Store.GetUser(e.ctx, u.Username)
	e.must(err, "GetUser")
	u.Subject = sub
	e.wantEqual("GetUser after AssignSubject", after, u)
	bySub, err := e.h.Store.GetUserBySubject(e.ctx, sub)
	e.must(err, "GetUserBySubject after AssignSubject")
	if bySub.Username != u.Username {
		e.Fatalf("GetUserBySubject = %q, want %q", bySub.Username, u.Username)
	}
}

func userAssignSubjectKeeps(e *env) {
	u := e.newUser()
	e.must(e.h.Admin.PutUser(e.ctx, u), "PutUser")
	got, err := e.h.Store.AssignSubject(e.ctx, u.Username, oauth.NewSubject())
	e.must(err, "AssignSubject")
	if got != u.Subject {
		e.Fatalf("AssignSubject on a user with a subject = %q, want its own %q", got, u.Subject)
	}
	e.wantUser(u)
}

func userAssignSubjectMissing(e *env) {
	_, err := e.h.Store.AssignSubject(e.ctx, "user-"+id(), oauth.NewSubject())
	e.wantErr(err, oauth.ErrNotFound, "AssignSubject of a missing user")
	_, err = e.h.Store.GetUser(e.ctx, "user-"+id())
	e.wantErr(err, oauth.ErrNotFound, "GetUser") // and it created nothing
}

// userAssignSubjectConcurrently races first sign-ins: every caller gets
// the same subject, the one stored.
func userAssignSubjectConcurrently(e *env) {
	u := e.newUser()
	u.Subject = ""
	e.must(e.h.Admin.PutUser(e.ctx, u), "PutUser")
	subs := make([]string, racers/5)
	errs := make([]error, len(subs))
	var wg sync.WaitGroup
	for i := range subs {
		wg.Go(func() { subs[i], errs[i] = e.h.Store.AssignSubject(e.ctx, u.Username, oauth.NewSubject()) })
	}
	wg.Wait()
	for i := range subs {
		e.must(errs[i], "AssignSubject")
		if subs[i] != subs[0] {
			e.Fatalf("concurrent AssignSubject calls disagree: %q and %q", subs[0], subs[i])
		}
	}
	got, err := e.h.Store.GetUser(e.ctx, u.Username)
	e.must(err, "GetUser")
	if got.Subject != subs[0] {
		e.Fatalf("stored subject %q, callers were told %q", got.Subject, subs[0])
	}
}
