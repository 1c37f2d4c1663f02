// Package browsertest drives Debian's Chromium through the SPA example
// (dev/examples/spa) against a real Kratos and the real service, each on its own
// origin of one site: app.example.test, api.example.test and auth.example.test,
// which Chromium resolves to 127.0.0.1. A page on another site (evil.test) tries to
// read and revoke from its own script. Run it with make browser; it is its own
// module, so chromedp stays out of the service's go.mod.
//
//	cd dev/browsertest && go test -v .                                   # the cases
//	cd dev/browsertest && go test -run 'Browser/sign_up' -screenshot ../../docs/browser-signed-in.png
package browsertest
