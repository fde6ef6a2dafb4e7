#!/usr/bin/env bash
# Builds the tokio peer of the benchmark (bench/peers/tokio) offline, from the Rust crates
# Debian packages under /usr/share/cargo/registry (the crate's .cargo/config.toml points
# cargo there instead of crates.io). Missing Debian packages are installed when this runs as
# root; otherwise it says what to install and exits non-zero.
#
# Usage: bench/peers/build-tokio.sh
# Output: bench/peers/tokio/target/release/tokio_server
set -eu

crate=$(cd "$(dirname "$0")/tokio" && pwd)

# librust-tokio-dev provides the features used (rt, net, io-util, macros, signal) and pulls
# in tokio-macros, mio, socket2, signal-hook-registry and the rest; memchr is a direct
# dependency of the peer (memmem, like the C peers' memmem(3)).
packages=(librust-tokio-dev librust-memchr-dev)
command -v cargo >/dev/null 2>&1 || packages+=(cargo)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "build-tokio: missing Debian packages: ${missing[*]}" >&2
        echo "build-tokio: run as root, or: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "build-tokio: installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing[@]}"; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

if [ ! -d /usr/share/cargo/registry ]; then
    echo "build-tokio: /usr/share/cargo/registry is missing (Debian's packaged crates)" >&2
    exit 1
fi

cd "$crate"
cargo build --release --offline
echo "build-tokio: built $crate/target/release/tokio_server"
