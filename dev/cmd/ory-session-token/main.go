// Command ory-session-token prints an Ory session token ("ory_st_...") for an
// email/password account, so API calls can be tried with curl:
//
//	TOKEN=$(go run ./cmd/ory-session-token -email demo@example.com -register)
//	curl -H "Authorization: Bearer $TOKEN" localhost:8080/api/me
//
// It signs in through Ory's API login flow and, with -register, registers the account
// when the login fails with invalid credentials. It works against any Ory public URL:
// local Kratos or an Ory Network project.
//
// Only the token (or, with -tokenize-as, the JWT) goes to stdout; diagnostics go to
// stderr. The password comes from -password or, better (flags show up in ps and shell
// history), from the ORY_PASSWORD environment variable; the tool never prompts.
//
// Environment (a .env file is not read by this tool):
//
//	ORY_SDK_URL       Ory public URL (default for -url)
//	ORY_PROJECT_SLUG  used when ORY_SDK_URL is unset: https://{slug}.projects.oryapis.com
//	ORY_EMAIL         default for -email
//	ORY_PASSWORD      default for -password
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/example/ory-gin-starter/dev/oryflow"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// defaultURL mirrors the service's configuration: ORY_SDK_URL, else the Ory Network
// URL of ORY_PROJECT_SLUG, else local Kratos.
func defaultURL(getenv func(string) string) string {
	if u := strings.TrimSpace(getenv("ORY_SDK_URL")); u != "" {
		return u
	}
	if slug := strings.TrimSpace(getenv("ORY_PROJECT_SLUG")); slug != "" {
		return "https://" + slug + ".projects.oryapis.com"
	}
	return "http://127.0.0.1:4433"
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ory-session-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ory-session-token -email EMAIL [-password PASSWORD] [-register] [-url URL]\n\n"+
			"Prints an Ory session token (ory_st_...) on stdout.\n"+
			"Prefer ORY_PASSWORD=... over -password (flags are visible in ps).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	oryURL := fs.String("url", defaultURL(getenv), "Ory public URL (env ORY_SDK_URL, or https://$ORY_PROJECT_SLUG.projects.oryapis.com)")
	email := fs.String("email", getenv("ORY_EMAIL"), "account email (env ORY_EMAIL)")
	password := fs.String("password", "", "account password (default env ORY_PASSWORD)")
	register := fs.Bool("register", false, "register the account if the login fails with invalid credentials")
	traitsJSON := fs.String("traits", "", `extra identity traits as JSON for -register, e.g. '{"name":{"first":"Demo"}}'`)
	tokenizeAs := fs.String("tokenize-as", "", "print a JWT from this tokenizer template (whoami ?tokenize_as=) instead of the session token")
	timeout := fs.Duration("timeout", 30*time.Second, "overall timeout")
	quiet := fs.Bool("q", false, "no diagnostics on stderr (errors are still printed)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ory-session-token: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *password == "" {
		*password = getenv("ORY_PASSWORD")
	}
	if strings.TrimSpace(*email) == "" {
		fmt.Fprintln(stderr, "ory-session-token: -email (or ORY_EMAIL) is required")
		return 2
	}
	if *password == "" {
		fmt.Fprintln(stderr, "ory-session-token: no password: set ORY_PASSWORD or pass -password (this tool does not prompt)")
		return 2
	}
	var traits map[string]any
	if *traitsJSON != "" {
		if err := json.Unmarshal([]byte(*traitsJSON), &traits); err != nil {
			fmt.Fprintf(stderr, "ory-session-token: -traits is not a JSON object: %v\n", err)
			return 2
		}
	}
	logf := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	hc := &http.Client{Timeout: *timeout}

	res, err := oryflow.Login(ctx, hc, *oryURL, *email, *password)
	switch {
	case err == nil:
		logf("logged in as %s at %s (identity %s, session %s)", *email, *oryURL, res.IdentityID, res.SessionID)
	case *register && oryflow.IsInvalidCredentials(err):
		logf("login failed with invalid credentials; registering %s at %s", *email, *oryURL)
		res, err = oryflow.Register(ctx, hc, *oryURL, *email, *password, traits)
		if oryflow.IsDuplicateAccount(err) {
			fmt.Fprintf(stderr, "ory-session-token: %s exists but the password is wrong: %v\n", *email, err)
			return 1
		}
		if err != nil {
			fmt.Fprintf(stderr, "ory-session-token: %v\n", err)
			return 1
		}
		logf("registered %s (identity %s, session %s)", *email, res.IdentityID, res.SessionID)
	default:
		fmt.Fprintf(stderr, "ory-session-token: %v\n", err)
		if oryflow.IsInvalidCredentials(err) && !*register {
			fmt.Fprintln(stderr, "ory-session-token: add -register to create the account")
		}
		return 1
	}

	out := res.SessionToken
	if *tokenizeAs != "" {
		s, err := oryflow.Whoami(ctx, hc, *oryURL, oryflow.Credentials{SessionToken: res.SessionToken}, *tokenizeAs)
		if err != nil {
			fmt.Fprintf(stderr, "ory-session-token: tokenize as %q: %v\n", *tokenizeAs, err)
			return 1
		}
		if s.Tokenized == "" {
			fmt.Fprintf(stderr, "ory-session-token: Ory returned no tokenized session for template %q\n", *tokenizeAs)
			return 1
		}
		out = s.Tokenized
	}
	fmt.Fprintln(stdout, out)
	return 0
}
