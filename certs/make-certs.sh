#!/usr/bin/env bash
# Makes the webhook's serving certificate with the openssl CLI: a private CA (created once) and a
# serving certificate for <service>.<namespace>.svc signed by it. Prints the caBundle (base64 of
# the CA PEM) on stdout, for the MutatingWebhookConfiguration; everything else goes to stderr.
#
# A new serving pair replaces the old one atomically, the way the kubelet updates a Secret volume:
# the pair is written into a fresh hidden directory, then the ..data symlink is renamed over to
# point at it; tls.crt and tls.key are symlinks through ..data. A watcher (the webhook reloading
# its certificate) sees either the old pair or the new one, never a mix or a half-written file.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: make-certs.sh [options]

Makes a CA (if OUT has none) and a serving certificate for SERVICE.NAMESPACE.svc, and prints the
caBundle (base64 of the CA certificate PEM) on stdout.

  --out DIR          where the files go (default: ./batch-offload-certs)
  --service NAME     the webhook's Service name (default: batch-offload)
  --namespace NAME   its namespace (default: batch-offload)
  --san SAN          an extra subjectAltName: DNS:name, IP:address, or a bare DNS name (repeatable)
  --local            add the SANs for local tests: DNS:localhost, IP:127.0.0.1, IP:::1
  --key-type TYPE    ecdsa (P-256, default) or rsa (2048 bits); the CA's key type is chosen when
                     the CA is made
  --days N           serving certificate validity in days (default: 365)
  --ca-days N        CA validity in days (default: 3650)
  --rotate           replace the serving key and certificate with new ones from the same CA
                     (without it, an existing serving certificate is kept)
  -h, --help         this text

Files in DIR: ca.crt, ca.key (the CA); tls.crt, tls.key (the serving pair, symlinks into the
current ..data generation). For the chart's `provided` mode:
  kubectl -n NAMESPACE create secret tls NAME --cert=DIR/tls.crt --key=DIR/tls.key
  and set certificates.provided.caBundle to the line printed on stdout.
EOF
}

die() {
    echo "make-certs.sh: $*" >&2
    exit 2
}

out=./batch-offload-certs
service=batch-offload
namespace=batch-offload
key_type=ecdsa
days=365
ca_days=3650
rotate=false
extra_sans=()

while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        --service) service=${2:?--service needs a name}; shift 2 ;;
        --namespace) namespace=${2:?--namespace needs a name}; shift 2 ;;
        --san) extra_sans+=("${2:?--san needs a value}"); shift 2 ;;
        --local) extra_sans+=(DNS:localhost IP:127.0.0.1 IP:::1); shift ;;
        --key-type) key_type=${2:?--key-type needs ecdsa or rsa}; shift 2 ;;
        --days) days=${2:?--days needs a number}; shift 2 ;;
        --ca-days) ca_days=${2:?--ca-days needs a number}; shift 2 ;;
        --rotate) rotate=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

# Service and namespace names are DNS labels; anything else would make certificate names the
# API server never uses.
dns_label='^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'
[[ $service =~ $dns_label ]] || die "--service '$service' is not a DNS label (a-z, 0-9, '-', at most 63)"
[[ $namespace =~ $dns_label ]] || die "--namespace '$namespace' is not a DNS label (a-z, 0-9, '-', at most 63)"
[[ $key_type == ecdsa || $key_type == rsa ]] || die "--key-type must be ecdsa or rsa, not '$key_type'"
[[ $days =~ ^[1-9][0-9]{0,4}$ ]] || die "--days must be a whole number of days, 1-99999"
[[ $ca_days =~ ^[1-9][0-9]{0,4}$ ]] || die "--ca-days must be a whole number of days, 1-99999"
command -v openssl >/dev/null || die "openssl is not installed"

# DNS.n / IP.n lines for the openssl config, from the Service names and --san values.
alt_names() {
    local dns=("$service" "$service.$namespace" "$service.$namespace.svc" "$service.$namespace.svc.cluster.local")
    local ips=() san
    for san in "${extra_sans[@]}"; do
        case "$san" in
            IP:*) ips+=("${san#IP:}") ;;
            DNS:*) dns+=("${san#DNS:}") ;;
            *:*) die "--san '$san': use DNS:name or IP:address" ;;
            *) dns+=("$san") ;;
        esac
    done
    local i
    for i in "${!dns[@]}"; do
        [[ ${dns[$i]} =~ ^[A-Za-z0-9*]([-A-Za-z0-9.]*[A-Za-z0-9])?$ ]] || die "--san '${dns[$i]}' is not a DNS name"
        echo "DNS.$((i + 1)) = ${dns[$i]}"
    done
    for i in "${!ips[@]}"; do
        [[ ${ips[$i]} =~ ^[0-9A-Fa-f.:]+$ ]] || die "--san 'IP:${ips[$i]}' is not an IP address"
        echo "IP.$((i + 1)) = ${ips[$i]}"
    done
}

new_key() { # FILE TYPE
    if [ "$2" = rsa ]; then
        openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
    else
        openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
    fi
}

key_type_of() { # KEY FILE -> ecdsa | rsa
    if openssl pkey -in "$1" -noout -text 2>/dev/null | grep -q 'ASN1 OID: prime256v1'; then
        echo ecdsa
    else
        echo rsa
    fi
}

random_serial() { echo "0x$(openssl rand -hex 16)"; }

describe_key_type() { # ecdsa | rsa -> "an ECDSA P-256" | "an RSA 2048-bit"
    if [ "$1" = rsa ]; then echo "an RSA 2048-bit"; else echo "an ECDSA P-256"; fi
}

# SANs are checked here: a die() inside the config heredoc below would not stop the script.
san_lines=$(alt_names)

mkdir -p "$out"
umask 077 # keys readable by their owner only; certificates are made 0644 explicitly
work=$(mktemp -d "$out/.make-certs.XXXXXX")
pending_generation="" # a generation directory not switched to yet: removed if anything fails
trap 'rm -rf "$work" ${pending_generation:+"$pending_generation"}' EXIT

# The ECDSA key of a serving certificate never encrypts (RFC 5480 section 3): keyEncipherment is
# only asserted for RSA.
serving_usage="critical, digitalSignature"
[ "$key_type" = rsa ] && serving_usage="critical, digitalSignature, keyEncipherment"

cat >"$work/openssl.cnf" <<EOF
[ req ]
distinguished_name = subject
prompt = no
[ subject ]
CN = unused
[ ca_extensions ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ serving_extensions ]
basicConstraints = critical, CA:FALSE
keyUsage = $serving_usage
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = @alt_names
[ alt_names ]
$san_lines
EOF

# The CA: made once, both files or neither.
if [ -e "$out/ca.crt" ] || [ -e "$out/ca.key" ]; then
    if [ ! -f "$out/ca.crt" ] || [ ! -f "$out/ca.key" ]; then
        die "$out has only one of ca.crt and ca.key; remove it to start over"
    fi
    echo "make-certs.sh: using the CA in $out" >&2
else
    new_key "$work/ca.key" "$key_type"
    openssl req -x509 -new -key "$work/ca.key" -config "$work/openssl.cnf" -extensions ca_extensions \
        -subj "/CN=batch-offload CA ($namespace)" -days "$ca_days" -sha256 -set_serial "$(random_serial)" \
        -out "$work/ca.crt"
    chmod 644 "$work/ca.crt"
    mv -f "$work/ca.key" "$out/ca.key"
    mv -f "$work/ca.crt" "$out/ca.crt"
    echo "make-certs.sh: made $(describe_key_type "$(key_type_of "$out/ca.key")") CA in $out (valid $ca_days days)" >&2
fi

if [ -e "$out/..data/tls.crt" ] && [ "$rotate" = false ]; then
    echo "make-certs.sh: keeping the serving certificate in $out (--rotate replaces it)" >&2
else
    # A new generation directory beside ..data, so the final rename stays on one file system.
    generation=$(mktemp -d "$out/..generation.XXXXXX")
    pending_generation=$generation
    chmod 755 "$generation"
    new_key "$generation/tls.key" "$key_type"
    openssl req -new -key "$generation/tls.key" -config "$work/openssl.cnf" \
        -subj "/CN=$service.$namespace.svc" -out "$work/serving.csr"
    openssl x509 -req -in "$work/serving.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
        -set_serial "$(random_serial)" -days "$days" -sha256 \
        -extfile "$work/openssl.cnf" -extensions serving_extensions -out "$generation/tls.crt" \
        2>"$work/sign.log" || die "signing the serving certificate failed: $(cat "$work/sign.log")"
    chmod 644 "$generation/tls.crt"
    # Never switch to a pair the CA does not vouch for.
    openssl verify -CAfile "$out/ca.crt" -purpose sslserver "$generation/tls.crt" >/dev/null ||
        die "the new serving certificate does not verify against $out/ca.crt"

    previous=$(readlink "$out/..data" 2>/dev/null || true)
    ln -s "$(basename "$generation")" "$work/..data"
    mv -T "$work/..data" "$out/..data" # rename(2): the switch to the new pair is atomic
    pending_generation=""
    for file in tls.crt tls.key; do
        if [ "$(readlink "$out/$file" 2>/dev/null)" != "..data/$file" ]; then
            ln -s "..data/$file" "$work/$file"
            mv -T "$work/$file" "$out/$file"
        fi
    done
    if [ -n "$previous" ] && [ "$previous" != "$(basename "$generation")" ]; then
        rm -rf "${out:?}/$previous" # readers that opened the old files keep them until they close
    fi
    echo "make-certs.sh: made $(describe_key_type "$key_type") serving certificate for $service.$namespace.svc in $out" \
        "(valid $days days)" >&2
fi

# The caBundle: what clientConfig.caBundle and certificates.provided.caBundle expect.
base64 -w0 "$out/ca.crt"
echo
