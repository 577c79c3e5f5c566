#!/usr/bin/env bash
# Builds the two container images without a Docker daemon and writes them as OCI archives:
#
#   build/images/offload-webhook.tar    ghcr.io/batch-offload/offload-webhook:<VERSION>
#   build/images/batch-offloader.tar    ghcr.io/batch-offload/batch-offloader:<VERSION>
#
# For each image: builds its program in a build directory of its own (build/images/build/...,
# never the developer's build/<tls>), stages a root filesystem in build/images/<name>/rootfs
# (the stripped program, exactly the shared libraries `ldd` lists plus the loader, and what the
# image's Containerfile says it needs), builds <dir>/Containerfile FROM scratch with
# `buildah bud --isolation chroot` on vfs storage under build/images/ (the machine's container
# storage is never touched, and it is deleted afterwards), pushes the image to an oci-archive
# and prints its sizes. An image whose inputs (root filesystem, Containerfile, labels) did not
# change since the archive was written is not rebuilt.
#
# Run through `make images`. Needs root (buildah with vfs and chroot isolation) and the
# Debian packages buildah, binutils (strip) and dpkg. Environment:
#   VERSION         image tag and org.opencontainers.image.version (make passes the Makefile's)
#   WEBHOOK_TLS     openssl or wolfssl (default openssl: Apache-2.0; wolfssl is smaller but
#                   Debian's is GPL-2.0-or-later, and the image links it statically)
#   OFFLOADER_TLS   openssl or wolfssl (default openssl: libcurl needs OpenSSL anyway)
#   IMAGE_PREFIX    image names' prefix (default ghcr.io/batch-offload, the chart's default)
#   MAKE            the make to build the programs with (make passes itself)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-0.1.0}
WEBHOOK_TLS=${WEBHOOK_TLS:-openssl}
OFFLOADER_TLS=${OFFLOADER_TLS:-openssl}
IMAGE_PREFIX=${IMAGE_PREFIX:-ghcr.io/batch-offload}
MAKE=${MAKE:-make}
OUT=build/images
STORAGE=$PWD/$OUT/storage
RUNROOT=$PWD/$OUT/run

die() { echo "build-images: $*" >&2; exit 1; }

for tls in "$WEBHOOK_TLS" "$OFFLOADER_TLS"; do
    case $tls in openssl | wolfssl) ;; *) die "TLS must be openssl or wolfssl, not '$tls'" ;; esac
done
command -v buildah >/dev/null || die "buildah is not installed (make deps installs it)"
[ "$(id -u)" -eq 0 ] || die "needs root: buildah builds with vfs storage and chroot isolation"

mkdir -p "$OUT"
# One build at a time per checkout: the storage below is shared by every run.
exec 9>"$OUT/.lock"
flock 9

bah() { buildah --root "$STORAGE" --runroot "$RUNROOT" --storage-driver vfs "$@"; }
cleanup() {
    if [ -d "$STORAGE" ]; then
        bah rm --all >/dev/null 2>&1 || true # leftover working containers of a failed build
    fi
    rm -rf "$STORAGE" "$RUNROOT"
}
trap cleanup EXIT
cleanup # a run that was killed may have left its storage behind

# Labels: the commit, "-dirty" when the sources differ from it; the commit's time as the
# image's creation time (buildah --timestamp), so the same sources give the same image.
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] &&
   [ -n "$(git status --porcelain -- common azure webhook offloader Makefile 2>/dev/null)" ]; then
    revision=$revision-dirty
fi
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

# ----- programs -----

webhook_build=$OUT/build/$WEBHOOK_TLS-static
offloader_build=$OUT/build/$OFFLOADER_TLS
# The webhook links only the TLS library, which Debian also ships as static archives
# (libwolfssl.a, libssl.a/libcrypto.a): a static-pie needs no loader and no libraries. The
# linker warns that a static getaddrinfo needs glibc's shared NSS modules at run time; the
# webhook only calls it with AI_NUMERICHOST|AI_NUMERICSERV (--listen takes an address), which
# never loads them.
if ! $MAKE -q --no-print-directory TLS="$WEBHOOK_TLS" SAN= BUILD="$webhook_build" LDFLAGS=-static-pie \
        "$webhook_build/offload-webhook" 2>/dev/null; then
    echo "  (expected: ld's warning about getaddrinfo in a static binary; --listen is numeric)"
fi
$MAKE --no-print-directory TLS="$WEBHOOK_TLS" SAN= BUILD="$webhook_build" LDFLAGS=-static-pie \
    "$webhook_build/offload-webhook"
# libcurl's dependencies (Kerberos, LDAP, nghttp2, librtmp, ...) have no static archives in
# Debian: the offloader links dynamically and the image carries the libraries.
$MAKE --no-print-directory TLS="$OFFLOADER_TLS" SAN= BUILD="$offloader_build" LDFLAGS= \
    "$offloader_build/batch-offloader"

# ----- root filesystems -----

# The Debian package that owns a file (/lib and /usr/lib are one directory on Debian 12, but
# dpkg knows each file under the path its package ships).
owner_package() {
    local path=$1 real candidate
    real=$(readlink -f "$path")
    for candidate in "$path" "$real" "/usr$path" "/usr$real" "${path#/usr}" "${real#/usr}"; do
        if dpkg-query -S "$candidate" >/dev/null 2>&1; then
            dpkg-query -S "$candidate" | head -n 1 | cut -d: -f1
            return
        fi
    done
    die "no Debian package owns $path"
}

# stage NAME BINARY TLS EXTRA_FILES...: build/images/NAME/rootfs with the stripped BINARY in
# /usr/bin, the libraries and loader ldd lists (at the paths it lists), each EXTRA file at its
# own path, and /usr/share/doc/<package>/copyright for every package that contributed.
stage() {
    local name=$1 binary=$2 tls=$3
    shift 3
    local rootfs=$OUT/$name/rootfs
    rm -rf "${OUT:?}/${name:?}"
    mkdir -p "$rootfs/usr/bin"
    strip --strip-all -o "$rootfs/usr/bin/$(basename "$binary")" "$binary"
    chmod 0755 "$rootfs/usr/bin/$(basename "$binary")"

    local files=("$@") packages=() lib
    if ldd "$binary" >/dev/null 2>&1 && ! ldd "$binary" | grep -q "statically linked"; then
        if ldd "$binary" | grep -q "not found"; then
            die "$binary: $(ldd "$binary" | grep "not found")"
        fi
        # "libx.so.1 => /lib/.../libx.so.1 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
        while read -r lib; do
            files+=("$lib")
        done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
    else
        # A static binary: the archives linked in (libc and the TLS library) name the packages.
        packages+=("$(owner_package "$(gcc -print-file-name=libc.a)")")
        case $tls in
        wolfssl) packages+=("$(owner_package "$(gcc -print-file-name=libwolfssl.a)")") ;;
        openssl) packages+=("$(owner_package "$(gcc -print-file-name=libssl.a)")") ;;
        esac
    fi
    local file
    for file in "${files[@]}"; do
        mkdir -p "$rootfs$(dirname "$file")"
        cp -L "$file" "$rootfs$file"
        case $file in
        */ld-linux*) chmod 0755 "$rootfs$file" ;;
        *) chmod 0644 "$rootfs$file" ;;
        esac
        case $file in
        # made by update-ca-certificates from the package's certificates
        /etc/ssl/certs/ca-certificates.crt) packages+=(ca-certificates) ;;
        *) packages+=("$(owner_package "$file")") ;;
        esac
    done
    local package
    for package in $(printf '%s\n' "${packages[@]}" | sort -u); do
        mkdir -p "$rootfs/usr/share/doc/$package"
        cp -L "/usr/share/doc/$package/copyright" "$rootfs/usr/share/doc/$package/copyright"
        chmod 0644 "$rootfs/usr/share/doc/$package/copyright"
    done
}

stage offload-webhook "$webhook_build/offload-webhook" "$WEBHOOK_TLS"

# glibc with no /etc/nsswitch.conf asks DNS before /etc/hosts, so the pod's hostAliases (in
# /etc/hosts) would be ignored for any name DNS knows.
nsswitch=$OUT/nsswitch.conf
printf 'hosts: files dns\n' >"$nsswitch"
stage batch-offloader "$offloader_build/batch-offloader" "$OFFLOADER_TLS" /etc/ssl/certs/ca-certificates.crt
install -m 0644 "$nsswitch" "$OUT/batch-offloader/rootfs/etc/nsswitch.conf"

# ----- images -----

# inputs_hash CONTEXT CONTAINERFILE LABELS...: what the image is made of.
inputs_hash() {
    local context=$1 containerfile=$2
    shift 2
    {
        (cd "$context/rootfs" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort &&
            find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        sha256sum <"$containerfile"
        printf '%s\n' "$@"
    } | sha256sum | cut -d' ' -f1
}

build_image() {
    local name=$1 containerfile=$2 tls=$3
    local context=$OUT/$name archive=$OUT/$name.tar ref=$IMAGE_PREFIX/$name:$VERSION
    local args=(--build-arg "VERSION=$VERSION" --build-arg "REVISION=$revision"
                --build-arg "CREATED=$created" --build-arg "TLS_LIBRARY=$tls")
    local hash
    hash=$(inputs_hash "$context" "$containerfile" "$ref" "$epoch" gzip-9 "${args[@]}")
    if [ -f "$archive" ] && [ "$(cat "$archive.inputs" 2>/dev/null)" = "$hash" ]; then
        echo "  IMAGE $ref: up to date ($archive)"
        return
    fi
    echo "  IMAGE $ref"
    rm -f "$archive.inputs"
    bah bud --isolation chroot --format oci --timestamp "$epoch" --identity-label=false \
        --pull=never --quiet "${args[@]}" -f "$containerfile" -t "$ref" "$context" >/dev/null
    rm -f "$archive.tmp"
    # gzip (what every runtime pulls) at level 9: about 6% smaller than buildah's default.
    bah push --quiet --compression-format gzip --compression-level 9 \
        "$ref" "oci-archive:$archive.tmp:$ref"
    mv -f "$archive.tmp" "$archive"
    echo "$hash" >"$archive.inputs"
    bah rmi --all >/dev/null
}

build_image offload-webhook webhook/Containerfile "$WEBHOOK_TLS"
build_image batch-offloader offloader/Containerfile "$OFFLOADER_TLS"

# ----- sizes -----

/usr/bin/python3 - "$OUT/offload-webhook.tar" "$OUT/batch-offloader.tar" <<'PY'
import gzip, json, os, sys, tarfile

def mb(n):
    return f"{n / 1e6:.2f} MB"

print(f"{'archive':<32} {'tar file':>9} {'layer (gzip)':>13} {'uncompressed':>13}  entrypoint, user")
for path in sys.argv[1:]:
    with tarfile.open(path) as archive:
        def blob(digest):
            return archive.extractfile("blobs/" + digest.replace(":", "/"))
        index = json.load(archive.extractfile("index.json"))
        manifest = json.load(blob(index["manifests"][0]["digest"]))
        config = json.load(blob(manifest["config"]["digest"]))["config"]
        compressed = sum(layer["size"] for layer in manifest["layers"])
        uncompressed = 0
        for layer in manifest["layers"]:
            with gzip.open(blob(layer["digest"])) as data:
                while chunk := data.read(1 << 20):
                    uncompressed += len(chunk)
    print(f"{path:<32} {mb(os.path.getsize(path)):>9} {mb(compressed):>13} {mb(uncompressed):>13}  "
          f"{' '.join(config.get('Entrypoint') or [])}, {config.get('User')}")
PY
