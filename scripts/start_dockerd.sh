#!/usr/bin/env bash
# Start a Docker engine for the docker sandbox backend (idempotent).
#
# If `docker info` already answers, exit 0. Otherwise start dockerd in the background (logs in
# $SIA_DOCKERD_LOG, default /var/log/dockerd.log) and wait until it answers. Configurations are tried in
# order until one comes up:
#   1. defaults (overlay2 storage, iptables on)      - what works in this dev VM (cgroup v1, root)
#   2. --storage-driver=vfs                          - when overlayfs cannot be mounted (nested docker)
#   3. --storage-driver=vfs --iptables=false --ip-masq=false --bridge=none
#                                                    - when netfilter is not available
# Sandboxes always run with network_mode=none, so (3) costs nothing at run time; only image builds need
# network, and scripts/build_images.sh builds with --network=host for that reason.
set -euo pipefail

LOG=${SIA_DOCKERD_LOG:-/var/log/dockerd.log}
WAIT_S=${SIA_DOCKERD_WAIT_S:-60}

if docker info >/dev/null 2>&1; then
  echo "docker engine already reachable"
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "error: dockerd not found; install it with: apt-get install -y docker.io" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: dockerd must be started as root (try: sudo $0)" >&2
  exit 1
fi
mkdir -p "$(dirname "$LOG")"

wait_ready() {  # $1 = pid; returns 0 once `docker info` answers, 1 if dockerd died or timed out
  local pid=$1 i
  for ((i = 0; i < WAIT_S * 2; i++)); do
    if docker info >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.5
  done
  return 1
}

configs=(
  ""
  "--storage-driver=vfs"
  "--storage-driver=vfs --iptables=false --ip-masq=false --bridge=none"
)
for opts in "${configs[@]}"; do
  echo "starting dockerd ${opts:-(defaults)}; log: $LOG"
  # shellcheck disable=SC2086  # opts is a word list on purpose
  nohup dockerd $opts >>"$LOG" 2>&1 </dev/null &
  pid=$!
  if wait_ready "$pid"; then
    echo "docker engine ready (pid $pid, options: ${opts:-defaults})"
    exit 0
  fi
  echo "dockerd did not come up with options '${opts:-defaults}'; trying the next configuration" >&2
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f /var/run/docker.pid
done
echo "error: could not start dockerd with any configuration; see the last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2
exit 1
