#!/usr/bin/env bash
# Starts or stops the single-node Slurm cluster of the live-Slurm tests (../shared/scripts/local-slurm),
# as ctest fixtures: `start` before them, `stop` after them even when they fail.
#   cluster.sh start|stop CLUSTER_DIR LOCAL_SLURM
set -euo pipefail
action=$1 dir=$2 local_slurm=$3
case $action in
  start)
    # The daemons listen on Slurm's default ports: a second cluster on this machine (another CI run, a
    # developer's) would answer in ours' place, with another munge key.
    for port in 6817 6818; do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "cluster.sh: port $port is in use: another Slurm daemon runs on this machine; stop it first" >&2
        exit 1
      fi
    done
    rm -rf "$dir"
    if ! "$local_slurm" start "$dir"; then
      if grep -qs "Unable to resolve" "$dir/log/slurmd.log"; then
        echo "cluster.sh: this machine's name '$(hostname -s)' does not resolve (no /etc/hosts entry): scripts/setup installs libnss-myhostname for it" >&2
      fi
      exit 1
    fi
    ;;
  stop)
    if [ -f "$dir/slurm.conf" ]; then
      export SLURM_CONF=$dir/slurm.conf
      scancel --me 2>/dev/null || true
      for _ in $(seq 30); do [ -z "$(squeue -h --me 2>/dev/null)" ] && break; sleep 1; done
    fi
    pids=$(cat "$dir"/*.pid 2>/dev/null || true)
    "$local_slurm" stop "$dir"
    for _ in $(seq 30); do
      alive=0
      for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ $alive = 0 ] && break
      sleep 0.5
    done
    for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
    ;;
  *) echo "usage: cluster.sh start|stop CLUSTER_DIR LOCAL_SLURM" >&2; exit 2 ;;
esac
