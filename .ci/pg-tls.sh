#!/usr/bin/env bash
# Turns on TLS in the local Debian PostgreSQL cluster with a throwaway CA, for the sslmode
# tests (run as root, by .ci/run). Writes into $1 (default /tmp/preciso-pg-tls):
#   ca.crt        the CA that signed the server's certificate (SAN IP:127.0.0.1, DNS:localhost)
#   other-ca.crt  an unrelated CA, which verify-full must refuse
# The certificates live 7 days; each CI run makes new ones.
set -euo pipefail
ver=$(ls /etc/postgresql | sort -V | tail -1)
out=${1:-/tmp/preciso-pg-tls}
tls=/var/lib/postgresql/$ver/ci-tls
mkdir -p "$out" && cd "$out"
ec() { openssl req -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "$@" 2>/dev/null; }
ec -x509 -days 7 -subj /CN=preciso-ci-ca -keyout ca.key -out ca.crt \
   -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
ec -x509 -days 7 -subj /CN=preciso-other-ca -keyout other-ca.key -out other-ca.crt
ec -new -subj /CN=localhost -keyout server.key -out server.csr
printf '%s\n' subjectAltName=IP:127.0.0.1,DNS:localhost basicConstraints=critical,CA:FALSE \
  keyUsage=critical,digitalSignature extendedKeyUsage=serverAuth > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
  -extfile server.ext -out server.crt 2>/dev/null
install -d -o postgres -g postgres -m 0700 "$tls"
install -o postgres -g postgres -m 0644 server.crt "$tls/server.crt"
install -o postgres -g postgres -m 0600 server.key "$tls/server.key"
printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$tls/server.crt" "$tls/server.key" \
  > "/etc/postgresql/$ver/main/conf.d/91-preciso-ci-ssl.conf"
# A running cluster reloads (SIGHUP); a stopped one reads the file when it starts.
if pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
  for _ in $(seq 50); do
    psql "host=127.0.0.1 user=postgres dbname=postgres sslmode=verify-full sslrootcert=$out/ca.crt" \
      -Atc 'select 1' >/dev/null 2>&1 && exit 0
    sleep 0.2
  done
  echo "PostgreSQL did not pick up the CI certificate" >&2
  exit 1
fi
