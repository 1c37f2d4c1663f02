// Package stack tests the composed stack for real (`make stack`, build tag stack): the
// repository's own docker-compose.yml and Dockerfile brought up with `docker compose
// up --build --wait` under a throwaway project name and free host ports, then used from
// the host the way the README tells people to: a session token with nothing but curl,
// every route with a token and a cookie, the admin role set through Kratos's admin
// port, revocation, Kratos stopped and started, data kept across down and up, and
// nothing left behind by down -v. dev/cmd/stack makes the engine, the Compose plugin and
// the images ready first.
package stack
