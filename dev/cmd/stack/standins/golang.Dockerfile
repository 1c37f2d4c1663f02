# Stand-in for the golang image: the Debian base plus this machine's Go toolchain (the
# build context is its GOROOT). The base already trusts this machine's CA bundle, which
# module downloads through the Go module proxy need here.
ARG BASE
FROM ${BASE}
COPY . /usr/local/go
ENV GOTOOLCHAIN=local GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/bin /go/src && chmod -R 1777 /go && go version
WORKDIR /go
