# Stand-in for oryd/kratos: the Kratos the Makefile builds (cgo, glibc: hence the Debian
# base) run like the official image: user ory, which owns /var/lib/sqlite so a fresh
# named volume there is writable; wget (in the base) for the compose healthcheck.
ARG BASE
FROM ${BASE}
RUN groupadd --system --gid 10000 ory \
 && useradd --system --uid 10000 --gid ory --home-dir /home/ory --create-home --shell /usr/sbin/nologin ory \
 && mkdir -p /var/lib/sqlite && chown ory:ory /var/lib/sqlite
COPY kratos /usr/bin/kratos
USER 10000
ENTRYPOINT ["kratos"]
CMD ["serve"]
