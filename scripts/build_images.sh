#!/usr/bin/env bash
# Build the sandbox images (`make images`). Idempotent: an image whose content tag exists is skipped.
#
# usage: scripts/build_images.sh [--gpu] [--base-only] [NAME ...]     (default NAMEs: scaffold verifier)
#
# 1. Base image sia/base:bookworm. `docker pull debian:bookworm-slim` when a registry answers; otherwise
#    (this VM: Docker Hub is unreachable) `debootstrap --variant=minbase bookworm` from the Debian mirror
#    in /etc/apt/sources.list(.d) and `docker import`. The rootfs is built once and cached as a tarball
#    in $SIA_IMAGE_CACHE (default /var/cache/sia/images).
# 2. Each images/<name>/Dockerfile is built with --build-arg BASE=<base> and tagged
#    sia/<name>:<sha12> (content hash computed by `python -m sia_sandbox.sandbox.images tag <name>`, the
#    same function the backends use to find it) plus sia/<name>:latest. The verifier image builds on the
#    scaffold image (BASE=sia/scaffold:<tag>) so the scientific stack is byte-identical in both.
# 3. --gpu also builds images/trimul-cuda (BASE=$SIA_TRIMUL_BASE, default the base above).
#
# Torch: download.pytorch.org is not reachable here and PyPI's torch==2.13.0 for linux pulls ~3 GB of
# CUDA wheels, so the scaffold image installs the CPU wheel, served to the build from the host over
# http://127.0.0.1 (see serve_build_files). The wheel is taken from $SIA_WHEEL_DIR (default /opt/wheels)
# or downloaded from download.pytorch.org; its sha256 is checked against
# images/scaffold/torch-wheel.sha256 here and again inside the Dockerfile.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${SIA_PYTHON:-$ROOT/.venv/bin/python}
CACHE=${SIA_IMAGE_CACHE:-/var/cache/sia/images}
BASE_TAG=sia/base:bookworm
WHEEL_DIR=${SIA_WHEEL_DIR:-/opt/wheels}
TORCH_URL_PREFIX=https://download.pytorch.org/whl/cpu
PORT=${SIA_BUILD_PORT:-8765}

gpu=0; base_only=0; names=()
for a in "$@"; do
  case $a in
    --gpu) gpu=1 ;;
    --base-only) base_only=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "error: unknown option $a" >&2; exit 2 ;;
    *) names+=("$a") ;;
  esac
done
[ ${#names[@]} -eq 0 ] && names=(scaffold verifier)
[ $gpu = 1 ] && names+=(trimul-cuda)

log() { echo "[build_images $(date +%H:%M:%S)] $*"; }
die() { echo "error: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "docker engine not reachable; start it with scripts/start_dockerd.sh"
mkdir -p "$CACHE"

debian_mirror() {  # first http(s) Debian URI in the apt sources (deb822 or one-line format)
  local m
  m=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
      | grep -E '/debian/?$' | head -n1 || true)
  [ -z "$m" ] && m=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

ensure_base() {
  if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then log "base $BASE_TAG present"; return; fi
  if timeout 60 docker pull debian:bookworm-slim >/dev/null 2>&1; then
    docker tag debian:bookworm-slim "$BASE_TAG"; log "base pulled from debian:bookworm-slim"; return
  fi
  log "registry unreachable; building the base with debootstrap"
  local tarball=$CACHE/bookworm-minbase.tar
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install -y debootstrap"
    local mirror dir
    mirror=$(debian_mirror); dir=$CACHE/rootfs.tmp
    rm -rf "$dir"
    log "debootstrap --variant=minbase bookworm from $mirror (a few minutes)"
    debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $CACHE/debootstrap.log"
    # Smaller and deterministic-ish: no apt lists, caches or logs in the image.
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/log/* "$dir"/tmp/*
    tar -C "$dir" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
  fi
  docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' "$tarball" "$BASE_TAG" >/dev/null
  log "base imported as $BASE_TAG"
}

FILES=""; SERVER_PID=""
serve_build_files() {  # build-time files (torch wheel, CA bundle) over http://127.0.0.1:$PORT
  # Served rather than COPYed: a COPY layer would keep the 190 MB wheel in the image even after rm,
  # and this engine has no BuildKit (RUN --mount). Builds run with --network=host to reach it.
  [ -n "$SERVER_PID" ] && return
  local sum name
  read -r sum name <"$ROOT/images/scaffold/torch-wheel.sha256"
  FILES=$(mktemp -d "$CACHE/files.XXXX")
  if [ -f "$WHEEL_DIR/$name" ]; then
    ln -s "$WHEEL_DIR/$name" "$FILES/$name"
  else
    log "torch wheel not in $WHEEL_DIR; downloading from $TORCH_URL_PREFIX"
    curl -fsSL --retry 2 -o "$FILES/$name" "$TORCH_URL_PREFIX/${name//+/%2B}" \
      || die "no torch wheel: put $name in \$SIA_WHEEL_DIR or make download.pytorch.org reachable"
  fi
  echo "$sum  $FILES/$name" | sha256sum -c --quiet - || die "torch wheel sha256 mismatch ($name)"
  # The host's CA bundle, so pip inside the build trusts what the host trusts (this VM's egress proxy
  # re-signs TLS with its own CA). It is deleted in the same RUN layer and never stays in an image.
  cp "${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}" "$FILES/ca.pem"
  "$PY" -m http.server --bind 127.0.0.1 --directory "$FILES" "$PORT" >"$CACHE/http.log" 2>&1 &
  SERVER_PID=$!
  trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$FILES"' EXIT
  for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/ca.pem" && return; sleep 0.1; done
  die "build file server on 127.0.0.1:$PORT did not start (port busy? set SIA_BUILD_PORT); see $CACHE/http.log"
}

build_one() {  # $1 = image name, $2 = BASE build arg
  local name=$1 base=$2 tag
  tag=$("$PY" -m sia_sandbox.sandbox.images tag "$name")
  if docker image inspect "$tag" >/dev/null 2>&1; then
    docker tag "$tag" "sia/$name:latest"; log "$tag present (skip)"; return
  fi
  serve_build_files
  log "building $tag (BASE=$base)"
  local t0=$SECONDS
  if ! docker build --network=host --build-arg "BASE=$base" \
      --build-arg "BUILD_FILES_URL=http://127.0.0.1:$PORT" -t "$tag" -t "sia/$name:latest" \
      "$ROOT/images/$name" >"$CACHE/build-$name.log" 2>&1; then
    die "building $name failed; see $CACHE/build-$name.log"
  fi
  log "built $tag in $((SECONDS - t0)) s, size $(docker image inspect -f '{{.Size}}' "$tag") bytes"
}

ensure_base
[ $base_only = 1 ] && exit 0
for n in "${names[@]}"; do
  [ -f "$ROOT/images/$n/Dockerfile" ] || die "images/$n/Dockerfile not found"
  build_one "$n" "$("$PY" -m sia_sandbox.sandbox.images base "$n")"
done
