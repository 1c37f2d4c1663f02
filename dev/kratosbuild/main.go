// Command kratos builds Ory Kratos from the Go module proxy, so the starter can run
// and test against a real Ory without Docker or an Ory account.
//
// Kratos's own module cannot be "go install"ed because its go.mod has replace
// directives; this module copies them (see go.mod) and calls Kratos's CLI entry point.
package main

import (
	"os"

	"github.com/ory/kratos/cmd"
)

func main() {
	os.Exit(cmd.Execute())
}
