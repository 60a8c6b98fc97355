#!/usr/bin/env bash
# Builds a stand-in for the official debian:bookworm-slim image with debootstrap, slimmed the
# way the official image is (debuerreotype's "slimify" + minimizing config), and writes it as a
# rootfs tarball for `podman import`. No registry is reachable here, so this is how the
# Dockerfile's `FROM debian:bookworm-slim` gets a base image.
#
# Usage: base-image.sh OUT.tar
# The Debian mirror is read from the host's apt sources at run time (never hard-coded), and the
# host's Valid-Until/Date relaxations (needed by snapshot-style mirrors) are carried into the
# image so `apt-get update` inside `podman build` behaves exactly like it does on the host.
# run.sh caches OUT.tar keyed by a hash of this file plus the host's apt sources.
set -euo pipefail

out=${1:?usage: base-image.sh OUT.tar}
suite=bookworm

# First enabled URI serving the suite itself (not -security/-updates), from deb822 .sources
# files or one-line sources.list entries.
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$suite" '
            /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri=""; ok=0; next }
            /^URIs:/   { uri=$2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok=1 }
            END        { if (uri != "" && ok) print uri }' "$f" | head -n1
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk -v s="$suite" '$1 == "deb" && $0 !~ /\[/ && $3 == s { print $2 }
                           $1 == "deb" && $3 ~ /^\[/ && $4 == s { print $3 }' || true
}
mirror=$(host_mirror | head -n1)
[ -n "$mirror" ] || { echo "base-image: no Debian $suite mirror in the host's apt sources" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tw-rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

echo "base-image: debootstrap --variant=minbase $suite from the host's mirror" >&2
debootstrap --variant=minbase --merged-usr \
    --keyring=/usr/share/keyrings/debian-archive-keyring.gpg "$suite" "$root" "$mirror" \
    > "$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# apt sources inside the image: the host's own Debian entries, in the official image's deb822
# form and file name.
rm -f "$root/etc/apt/sources.list"
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    # Only blocks whose URIs the host actually uses for Debian (same host as the mirror).
    mhost=$(printf '%s\n' "$mirror" | sed -E 's#^[a-z]+://([^/]+).*#\1#')
    awk -v h="$mhost" 'BEGIN { RS=""; ORS="\n\n" } $0 ~ ("URIs:[[:space:]]*[a-z]+://" h "/") { print }' \
        /etc/apt/sources.list.d/*.sources > "$root/etc/apt/sources.list.d/debian.sources"
else
    grep -hE '^deb ' /etc/apt/sources.list > "$root/etc/apt/sources.list"
fi
grep -hE 'Check-Valid-Until|Check-Date' /etc/apt/apt.conf.d/* 2>/dev/null \
    > "$root/etc/apt/apt.conf.d/99host-mirror" || rm -f "$root/etc/apt/apt.conf.d/99host-mirror"

# Minimizing config, as debuerreotype writes it for the official images.
cat > "$root/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
exit 101
EOF
chmod 0755 "$root/usr/sbin/policy-rc.d"
echo 'force-unsafe-io' > "$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
printf '%s\n' 'Acquire::GzipIndexes "true";' 'Acquire::CompressionTypes::Order:: "gz";' \
    > "$root/etc/apt/apt.conf.d/docker-gzip-indexes"
printf '%s\n' 'Apt::AutoRemove::SuggestsImportant "false";' \
    > "$root/etc/apt/apt.conf.d/docker-autoremove-suggests"

# Slimify: what the official -slim variant drops, also for packages installed later.
cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# This is the "slim" variant of the Debian base image.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{groff,info,linda,lintian/overrides,locale,man}/*

# Leftovers a container image must not carry.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/var/log/*.log \
       "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/* "$root"/debootstrap
: > "$root/etc/machine-id"
rm -f "$root/etc/hostname" "$root/etc/resolv.conf"

tar --numeric-owner --xattrs -C "$root" -cf "$out.partial" .
mv "$out.partial" "$out"
echo "base-image: wrote $out ($(du -h "$out" | cut -f1))" >&2
