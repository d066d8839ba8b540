package oauth

import "testing"

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
