// Package composecheck validates the repository's docker-compose.yml with the real
// Compose loader (github.com/compose-spec/compose-go/v2, the library `docker compose`
// itself uses). It is a separate Go module so the starter's own go.mod stays lean.
//
//	cd dev/composecheck && go test ./...
package composecheck
