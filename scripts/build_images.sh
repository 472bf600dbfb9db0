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
# CUDA wheels, so the scaffold image installs the CPU wheel from the build context. The wheel is taken
# from $SIA_WHEEL_DIR (default /opt/wheels) or downloaded from download.pytorch.org, and its sha256 is
# checked against images/scaffold/torch-wheel.sha256 both here and inside the Dockerfile.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${SIA_PYTHON:-$ROOT/.venv/bin/python}
CACHE=${SIA_IMAGE_CACHE:-/var/cache/sia/images}
BASE_TAG=sia/base:bookworm
WHEEL_DIR=${SIA_WHEEL_DIR:-/opt/wheels}
TORCH_URL_PREFIX=https://download.pytorch.org/whl/cpu

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

stage_torch_wheel() {  # $1 = context dir; copies the pinned CPU wheel into $1/wheels
  local ctx=$1 pin name sum
  read -r sum name <"$ROOT/images/scaffold/torch-wheel.sha256"
  mkdir -p "$ctx/wheels"
  if [ -f "$WHEEL_DIR/$name" ]; then
    cp "$WHEEL_DIR/$name" "$ctx/wheels/"
  else
    log "torch wheel not in $WHEEL_DIR; downloading from $TORCH_URL_PREFIX"
    curl -fsSL --retry 2 -o "$ctx/wheels/$name" "$TORCH_URL_PREFIX/${name//+/%2B}" \
      || die "no torch wheel: put $name in \$SIA_WHEEL_DIR or make download.pytorch.org reachable"
  fi
  echo "$sum  $ctx/wheels/$name" | sha256sum -c --quiet - || die "torch wheel sha256 mismatch ($name)"
}

build_one() {  # $1 = image name, $2 = BASE build arg
  local name=$1 base=$2 tag ctx
  tag=$("$PY" -m sia_sandbox.sandbox.images tag "$name")
  if docker image inspect "$tag" >/dev/null 2>&1; then
    docker tag "$tag" "sia/$name:latest"; log "$tag present (skip)"; return
  fi
  ctx=$(mktemp -d "$CACHE/ctx-$name.XXXX")
  cp -a "$ROOT/images/$name/." "$ctx/"
  [ "$name" = scaffold ] && stage_torch_wheel "$ctx"
  log "building $tag (BASE=$base)"
  local t0=$SECONDS
  # --network=host: build steps (apt, pip) need the network even when dockerd runs with iptables off.
  if ! docker build --network=host --build-arg "BASE=$base" -t "$tag" -t "sia/$name:latest" \
      "$ctx" >"$CACHE/build-$name.log" 2>&1; then
    rm -rf "$ctx"; die "building $name failed; see $CACHE/build-$name.log"
  fi
  rm -rf "$ctx"
  log "built $tag in $((SECONDS - t0)) s, size $(docker image inspect -f '{{.Size}}' "$tag") bytes"
}

ensure_base
[ $base_only = 1 ] && exit 0
for n in "${names[@]}"; do
  [ -f "$ROOT/images/$n/Dockerfile" ] || die "images/$n/Dockerfile not found"
  build_one "$n" "$("$PY" -m sia_sandbox.sandbox.images base "$n")"
done
