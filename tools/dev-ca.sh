#!/bin/sh
# dev-ca.sh - a development certificate authority for wss:// tests and demos.
#
#   tools/dev-ca.sh OUTDIR                  create what is missing, print the paths
#   tools/dev-ca.sh --renew-server OUTDIR   new server key + certificate (new serial)
#                                           signed by the same CA, replaced in place
#
# OUTDIR gets (EC P-256 keys, SHA-256 signatures, PEM):
#   ca.crt ca.key                the dev CA ("wsbroker dev CA")
#   server.crt server.key        CN=localhost, SAN DNS:localhost, IP:127.0.0.1,
#                                IP:::1; serverAuth; signed by ca
#   client.crt client.key        CN=wsbroker dev client; clientAuth; signed by ca
#   other-ca.crt other-ca.key    a second, unrelated CA
#   other-client.crt other-client.key
#                                a client certificate signed by other-ca (the
#                                "wrong client certificate" case for mTLS)
#
# Idempotent: files that exist are kept, so a second run changes nothing and
# a broker already using them is undisturbed. Every file is written under a
# temporary name and renamed into place, so a reader (a broker reloading on
# SIGHUP) never sees half a file; the key is renamed before its certificate.
# Never use these for anything but development: the keys sit unencrypted in
# OUTDIR.
#
# Prints one `NAME PATH` line per file, e.g. `server.crt /tmp/x/server.crt`.
set -eu

DAYS_CA=3650
DAYS_LEAF=825
CURVE=prime256v1
SERVER_SAN="DNS:localhost,IP:127.0.0.1,IP:::1"

usage() {
    echo "usage: $0 [--renew-server] OUTDIR" >&2
    exit 2
}

renew=0
case "${1:-}" in
    --renew-server) renew=1; shift ;;
    -h|--help) usage ;;
esac
[ $# -eq 1 ] || usage
command -v openssl >/dev/null 2>&1 || { echo "$0: openssl not found" >&2; exit 1; }

out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.dev-ca.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# A 64-bit random serial, as hex, so every certificate (and every renewal)
# has its own.
serial() {
    echo "0x$(openssl rand -hex 8)"
}

# new_key NAME: an EC P-256 key in $work/NAME.key.
new_key() {
    openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$CURVE" \
        -out "$work/$1.key" 2>/dev/null
    chmod 600 "$work/$1.key"
}

# new_ca NAME CN: a self-signed CA certificate and key.
new_ca() {
    new_key "$1"
    cat >"$work/$1.ext" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = ext
[dn]
CN = $2
O = wsbroker development
[ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    openssl req -new -x509 -sha256 -key "$work/$1.key" -config "$work/$1.ext" \
        -days "$DAYS_CA" -set_serial "$(serial)" -out "$work/$1.crt"
}

# new_leaf NAME CN CA EKU [SAN]: a key and a certificate signed by CA (files
# in $out), for extendedKeyUsage EKU (serverAuth / clientAuth).
new_leaf() {
    new_key "$1"
    {
        echo "basicConstraints = critical, CA:FALSE"
        echo "keyUsage = critical, digitalSignature"
        echo "extendedKeyUsage = $4"
        echo "subjectKeyIdentifier = hash"
        echo "authorityKeyIdentifier = keyid"
        [ -z "${5:-}" ] || echo "subjectAltName = $5"
    } >"$work/$1.ext"
    openssl req -new -sha256 -key "$work/$1.key" -subj "/CN=$2/O=wsbroker development" \
        -out "$work/$1.csr"
    openssl x509 -req -sha256 -in "$work/$1.csr" -CA "$out/$3.crt" -CAkey "$out/$3.key" \
        -set_serial "$(serial)" -days "$DAYS_LEAF" -extfile "$work/$1.ext" \
        -out "$work/$1.crt" 2>/dev/null
}

# install NAME: rename the new key, then its certificate, into $out.
install() {
    mv -f "$work/$1.key" "$out/$1.key"
    mv -f "$work/$1.crt" "$out/$1.crt"
}

# have NAME: both files of NAME exist already.
have() {
    [ -s "$out/$1.key" ] && [ -s "$out/$1.crt" ]
}

# A CA made again invalidates its leaves: remake them too.
if ! have ca; then
    new_ca ca "wsbroker dev CA"
    install ca
    rm -f "$out/server.crt" "$out/client.crt"
fi
if ! have other-ca; then
    new_ca other-ca "wsbroker other dev CA"
    install other-ca
    rm -f "$out/other-client.crt"
fi
if [ "$renew" = 1 ] || ! have server; then
    new_leaf server localhost ca serverAuth "$SERVER_SAN"
    install server
fi
if ! have client; then
    new_leaf client "wsbroker dev client" ca clientAuth
    install client
fi
if ! have other-client; then
    new_leaf other-client "wsbroker other dev client" other-ca clientAuth
    install other-client
fi

# A leaf that no longer chains to its CA (a CA replaced by hand) is an error
# worth stopping for, not something to paper over.
openssl verify -CAfile "$out/ca.crt" "$out/server.crt" "$out/client.crt" >/dev/null
openssl verify -CAfile "$out/other-ca.crt" "$out/other-client.crt" >/dev/null

for f in ca server client other-ca other-client; do
    echo "$f.crt $out/$f.crt"
    echo "$f.key $out/$f.key"
done
