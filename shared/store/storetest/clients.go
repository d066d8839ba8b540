package storetest

import (
	"time"

	"github.com/gatehouse/gatehouse/shared/oauth"
)

// The cases of the client records' newer fields: the registration of a
// resource server (introspection_allowed) and the secret a rotation keeps
// for its grace period; and, for a store that can read a client afresh
// (oauth.ClientReloader), that it does. They sit in a group of their own
// so that the suite's list stays as it was.
func init() {
	suite = append(suite, group{"ClientSecrets", []testCase{
		{"RotationKeepsPreviousSecret", clientRotationStored},
		{"SecondRotationDropsFirst", clientSecondRotation},
		{"IntrospectionAllowed", clientIntrospectionAllowed},
		{"ReloadSeesLatestWrite", clientReloadLatest},
	}})
}

// clientRotationStored: a rotated client's two secrets and the previous
// one's expiry survive the store, and match as RotateSecret meant.
func clientRotationStored(e *env) {
	c := e.newClient()
	oldSecret, newSecret := oauth.NewClientSecret(), oauth.NewClientSecret()
	c.SecretHash = oauth.HashSecret(oldSecret)
	e.must(e.h.Admin.PutClient(e.ctx, c), "PutClient")
	rotatedAt := e.now().Truncate(time.Second)
	c.RotateSecret(newSecret, rotatedAt, 10*time.Minute)
	e.must(e.h.Admin.PutClient(e.ctx, c), "PutClient")

	got, err := e.h.Store.GetClient(e.ctx, c.ID)
	e.must(err, "GetClient")
	e.wantEqual("GetClient", got, c)
	until := rotatedAt.Add(10 * time.Minute)
	for _, tc := range []struct {
		secret string
		at     time.Time
		want   bool
	}{
		{newSecret, rotatedAt, true},
		{oldSecret, rotatedAt, true},
		{oldSecret, until.Add(-time.Second), true},
		{oldSecret, until, false},
		{newSecret, until.Add(time.Hour), true},
		{oauth.NewClientSecret(), rotatedAt, false},
	} {
		if ok := got.SecretMatches(tc.secret, tc.at); ok != tc.want {
			e.Errorf("stored client: secret matches at %v = %v, want %v", tc.at.Sub(rotatedAt), ok, tc.want)
		}
	}
}

// clientSecondRotation: rotating again keeps only the secret it replaces;
// a rotation without grace keeps none.
func clientSecondRotation(e *env) {
	c := e.newClient()
	first, second, third := oauth.NewClientSecret(), oauth.NewClientSecret(), oauth.NewClientSecret()
	c.SecretHash = oauth.HashSecret(first)
	now := e.now()
	c.RotateSecret(second, now, time.Hour)
	c.RotateSecret(third, now, time.Hour)
	e.must(e.h.Admin.PutClient(e.ctx, c), "PutClient")
	got, err := e.h.Store.GetClient(e.ctx, c.ID)
	e.must(err, "GetClient")
	if got.SecretMatches(first, now) || !got.SecretMatches(second, now) || !got.SecretMatches(third, now) {
		e.Errorf("after two rotations: %+v", got)
	}

	c.RotateSecret(oauth.NewClientSecret(), now, 0)
	e.must(e.h.Admin.PutClient(e.ctx, c), "PutClient")
	got, err = e.h.Store.GetClient(e.ctx, c.ID)
	e.must(err, "GetClient")
	e.wantEqual("GetClient", got, c)
	if got.PreviousSecretHash != "" || !got.PreviousSecretExpiresAt.IsZero() || got.SecretMatches(third, now) {
		e.Errorf("a rotation without grace kept the old secret: %+v", got)
	}
}

// clientIntrospectionAllowed: the flag survives the store, both ways.
func clientIntrospectionAllowed(e *env) {
	for _, allowed := range []bool{true, false} {
		c := e.newClient()
		c.IntrospectionAllowed = allowed
		e.must(e.h.Admin.PutClient(e.ctx, c), "PutClient")
		got, err := e.h.Store.GetClient(e.ctx, c.ID)
		e.must(err, "GetClient")
		e.wantEqual("GetClient", got, c)
	}
}

// clientReloadLatest: a store that can read a client afresh returns the
// record as last written, each time.
func clientReloadLatest(e *env) {
	r, ok := e.h.Store.(oauth.ClientReloader)
	if !ok {
		return // the store's GetClient is always fresh
	}
	c := e.newClient()
	e.must(e.h.Admin.PutClient(e.ctx, c), "PutClient")
	for range 3 {
		c.RotateSecret(oauth.NewClientSecret(), e.now(), time.Minute)
		e.must(e.h.Admin.PutClient(e.ctx, c), "PutClient")
		got, err := r.ReloadClient(e.ctx, c.ID)
		e.must(err, "ReloadClient")
		e.wantEqual("ReloadClient after PutClient", got, c)
	}
	_, err := r.ReloadClient(e.ctx, "client-"+id())
	e.wantErr(err, oauth.ErrNotFound, "ReloadClient of an unknown client")
}
