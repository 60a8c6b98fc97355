#!/usr/bin/env bash
# Fetches Amazon RDS's global CA bundle into certs/ for `docker build --build-arg
# DB_CA_BUNDLE=certs/rds-global-bundle.pem`, and refuses it unless every certificate in it is a
# CA certificate issued to "Amazon RDS …" that openssl can read.
#   scripts/fetch-db-ca.sh [OUTPUT]      (default certs/rds-global-bundle.pem)
# Needs: curl, openssl.
set -euo pipefail
URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
out=${1:-"$(dirname "${BASH_SOURCE[0]}")/../certs/rds-global-bundle.pem"}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
curl --fail --silent --show-error --proto '=https' --tlsv1.2 --max-time 60 -o "$tmp" "$URL"
count=$(grep -c -- '-----BEGIN CERTIFICATE-----' "$tmp" || true)
[[ $count -ge 1 ]] || { echo "fetch-db-ca: $URL holds no certificate" >&2; exit 1; }
# Every certificate must parse and be an Amazon RDS CA.
subjects=$(openssl crl2pkcs7 -nocrl -certfile "$tmp" | openssl pkcs7 -print_certs -noout | grep '^subject=')
[[ $(wc -l <<<"$subjects") -eq $count ]] || { echo "fetch-db-ca: openssl read fewer than $count certificates" >&2; exit 1; }
if grep -v 'Amazon RDS' <<<"$subjects" >&2; then
  echo "fetch-db-ca: the certificates above are not Amazon RDS CAs" >&2; exit 1
fi
mv "$tmp" "$out"
trap - EXIT
echo "fetch-db-ca: $count Amazon RDS CA certificates → $out (sha256 $(sha256sum "$out" | cut -c1-16)…)"
