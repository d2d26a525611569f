#!/usr/bin/env bash
# Test certificates for the TLS tests (tests/tls.rs), written into the directory given (made if
# missing). Nothing here is secret or long-lived: every test run makes its own set.
#
#   ca.pem, ca.key            a test CA
#   other-ca.pem              an unrelated CA (for "wrong CA" tests)
#   a.pem, a.key              a.test, localhost, 127.0.0.1      signed by the CA
#   b.pem, b.key              b.test                            signed by the CA
#   upstream.pem, upstream.key  upstream.test, 127.0.0.1        signed by the CA
#   client.pem, client.key    a client certificate (CN gatehouse-client) signed by the CA
#   soon.pem, soon.key        a.test, expires in 10 days        signed by the CA
#   expired.pem, expired.key  a.test, expired yesterday         signed by the CA
#
# Usage: tests/tls/make-certs.sh DIR     (needs the openssl command line tool)
set -euo pipefail
dir=${1:?usage: make-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 90 -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() { # name subject subjectAltName days [extendedKeyUsage]
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' "$3" "${5:-serverAuth}" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$4" \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "Gatehouse Test CA"
ca other-ca "Some Other CA"
rm -f other-ca.key
leaf a a.test "DNS:a.test,DNS:localhost,IP:127.0.0.1" 90
leaf b b.test "DNS:b.test" 90
leaf upstream upstream.test "DNS:upstream.test,IP:127.0.0.1" 90
leaf client gatehouse-client "DNS:gatehouse-client" 90 clientAuth
leaf soon a.test "DNS:a.test" 10
leaf expired a.test "DNS:a.test" -1
rm -f ca.srl
