# Stand-in for distroless static nonroot: no shell or package manager, only CA
# certificates (the Debian base's, which include this machine's), /etc/passwd and
# /etc/group with nonroot (65532), /tmp and nonroot's home.
ARG BASE
FROM ${BASE} AS files
RUN mkdir -p /out/etc/ssl/certs /out/tmp /out/home/nonroot \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /out/etc/passwd \
 && printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > /out/etc/group \
 && chmod 1777 /out/tmp && chown 65532:65532 /out/home/nonroot

FROM scratch
COPY --from=files /out/ /
USER 65532:65532
WORKDIR /home/nonroot
