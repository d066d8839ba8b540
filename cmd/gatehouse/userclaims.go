package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/shared/app"
	"github.com/gatehouse/gatehouse/shared/oauth"
)

// claimFlag is one flag of `users create|update` that sets an OpenID
// Connect standard claim (OpenID Connect Core 1.0 §5.1): the flag is the
// claim's name with "-" for "_" (address members as --address-<member>).
type claimFlag struct {
	name string // the claim, as app.ValidateClaims names it
	// str points at a string claim; boolean claims set boolean instead.
	str     func(c *oauth.UserClaims) *string
	boolean func(c *oauth.UserClaims) **bool
}

func addr(c *oauth.UserClaims) *oauth.Address {
	if c.Address == nil {
		c.Address = &oauth.Address{}
	}
	return c.Address
}

var claimFlags = []claimFlag{
	{name: "name", str: func(c *oauth.UserClaims) *string { return &c.Name }},
	{name: "given_name", str: func(c *oauth.UserClaims) *string { return &c.GivenName }},
	{name: "family_name", str: func(c *oauth.UserClaims) *string { return &c.FamilyName }},
	{name: "middle_name", str: func(c *oauth.UserClaims) *string { return &c.MiddleName }},
	{name: "nickname", str: func(c *oauth.UserClaims) *string { return &c.Nickname }},
	{name: "preferred_username", str: func(c *oauth.UserClaims) *string { return &c.PreferredUsername }},
	{name: "profile", str: func(c *oauth.UserClaims) *string { return &c.Profile }},
	{name: "picture", str: func(c *oauth.UserClaims) *string { return &c.Picture }},
	{name: "website", str: func(c *oauth.UserClaims) *string { return &c.Website }},
	{name: "email", str: func(c *oauth.UserClaims) *string { return &c.Email }},
	{name: "email_verified", boolean: func(c *oauth.UserClaims) **bool { return &c.EmailVerified }},
	{name: "gender", str: func(c *oauth.UserClaims) *string { return &c.Gender }},
	{name: "birthdate", str: func(c *oauth.UserClaims) *string { return &c.Birthdate }},
	{name: "zoneinfo", str: func(c *oauth.UserClaims) *string { return &c.Zoneinfo }},
	{name: "locale", str: func(c *oauth.UserClaims) *string { return &c.Locale }},
	{name: "phone_number", str: func(c *oauth.UserClaims) *string { return &c.PhoneNumber }},
	{name: "phone_number_verified", boolean: func(c *oauth.UserClaims) **bool { return &c.PhoneNumberVerified }},
	{name: "address.formatted", str: func(c *oauth.UserClaims) *string { return &addr(c).Formatted }},
	{name: "address.street_address", str: func(c *oauth.UserClaims) *string { return &addr(c).StreetAddress }},
	{name: "address.locality", str: func(c *oauth.UserClaims) *string { return &addr(c).Locality }},
	{name: "address.region", str: func(c *oauth.UserClaims) *string { return &addr(c).Region }},
	{name: "address.postal_code", str: func(c *oauth.UserClaims) *string { return &addr(c).PostalCode }},
	{name: "address.country", str: func(c *oauth.UserClaims) *string { return &addr(c).Country }},
}

// flagName is the command-line flag for a field app.ValidateClaims or
// SeedUser.Validate names ("given_name" is --given-name).
func flagName(field string) string {
	return "--" + strings.NewReplacer("_", "-", ".", "-").Replace(field)
}

// claimValues are the claim flags of one command line.
type claimValues struct {
	fs     *flag.FlagSet
	values map[string]*string // by flag name, without "--"
}

// addClaimFlags defines the claim flags on fs.
func addClaimFlags(fs *flag.FlagSet) *claimValues {
	cv := &claimValues{fs: fs, values: map[string]*string{}}
	for _, cf := range claimFlags {
		name := strings.TrimPrefix(flagName(cf.name), "--")
		usage := fmt.Sprintf("the user's %q claim (an empty value removes it)", cf.name)
		if cf.boolean != nil {
			usage = fmt.Sprintf("the user's %q claim: true or false (an empty value removes it)", cf.name)
		}
		cv.values[name] = fs.String(name, "", usage)
	}
	return cv
}

// apply sets on c the claims whose flags were given (an empty value
// removes the claim) and reports whether any was. A boolean claim's value
// that is neither true nor false is a usage error.
func (cv *claimValues) apply(c *oauth.UserClaims) (bool, error) {
	given := map[string]bool{}
	cv.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	set := false
	for _, cf := range claimFlags {
		name := strings.TrimPrefix(flagName(cf.name), "--")
		if !given[name] {
			continue
		}
		set = true
		v := *cv.values[name]
		if cf.str != nil {
			*cf.str(c) = v
			continue
		}
		switch v {
		case "":
			*cf.boolean(c) = nil
		case "true", "false":
			b := v == "true"
			*cf.boolean(c) = &b
		default:
			return false, usageError("--%s: %q must be true or false (or empty, to remove it)", name, v)
		}
	}
	if c.Address != nil && *c.Address == (oauth.Address{}) {
		c.Address = nil
	}
	return set, nil
}

// fieldProblems is a usage error listing errs under their flag names.
func fieldProblems(errs []app.FieldError) error {
	var problems []string
	for _, fe := range errs {
		problems = append(problems, flagName(fe.Field)+": "+fe.Message)
	}
	return usageError("%s", strings.Join(problems, "\n"))
}
