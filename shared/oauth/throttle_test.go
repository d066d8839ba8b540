package oauth

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSourcePrefix: logins are counted by IPv4 address, or by an IPv6
// address's /64 (one host usually owns a whole /64); IPv4-mapped IPv6
// addresses count as IPv4; anything else is not counted by address.
func TestSourcePrefix(t *testing.T) {
	cases := map[string]string{
		"203.0.113.7:443":                  "203.0.113.7",
		"203.0.113.7":                      "203.0.113.7",
		"[2001:db8:1:2:3:4:5:6]:8080":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff:ffff:ffff": "2001:db8:1:2::/64",
		"[::ffff:198.51.100.1]:1":          "198.51.100.1",
		"[fe80::1%eth0]:1":                 "fe80::/64",
		"":                                 "",
		"pipe":                             "",
		"example.com:80":                   "",
	}
	for in, want := range cases {
		if got := sourcePrefix(in); got != want {
			t.Errorf("sourcePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLoginCounters: an attempt is counted against its address first (if
// known) and its username last, each with its own limit, under keys of the
// current window that hold no username in clear.
func TestLoginCounters(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 7, 30, 0, time.UTC)
	s, err := NewServer(Config{Issuer: "https://issuer.example", Now: func() time.Time { return now },
		LoginMaxFailures: 4, LoginMaxFailuresPerIP: 40, LoginFailureWindow: 15 * time.Minute}, nopStore{}, nopSigner{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	suffix := fmt.Sprintf("#%d", start.Unix())
	counters, end := s.loginCounters(" Alice ", "203.0.113.7:443")
	if !end.Equal(start.Add(15 * time.Minute)) {
		t.Errorf("window end %v, want %v", end, start.Add(15*time.Minute))
	}
	if len(counters) != 2 || counters[0] != (LoginCounter{Key: "login#ip#203.0.113.7" + suffix, Limit: 40}) ||
		!strings.HasPrefix(counters[1].Key, "login#user#") || !strings.HasSuffix(counters[1].Key, suffix) ||
		counters[1].Limit != 4 || strings.Contains(strings.ToLower(counters[1].Key), "alice") {
		t.Fatalf("counters %+v", counters)
	}
	same, _ := s.loginCounters("alice", "")
	if len(same) != 1 || same[0] != counters[1] {
		t.Errorf("without an address: %+v, want only the username's %+v", same, counters[1])
	}
}

// nopStore and nopSigner satisfy NewServer; calling them panics.
type nopStore struct{ Store }
type nopSigner struct{ Signer }
