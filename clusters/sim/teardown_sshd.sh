#!/usr/bin/env bash
# Undoes clusters/sim/setup_sshd.sh: stops its sshd (by the pid in WORKDIR), ends the processes left to NODE_USER
# (the simulation's own: that account exists only for it), and deletes the account with its home.
# Usage: clusters/sim/teardown_sshd.sh WORKDIR NODE_USER
set -uo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 WORKDIR NODE_USER" >&2; exit 2; fi
workdir=$1; node_user=$2

if [ -f "$workdir/sshd.pid" ]; then
  kill -TERM "$(cat "$workdir/sshd.pid")" 2>/dev/null
  rm -f "$workdir/sshd.pid"
fi
if id "$node_user" >/dev/null 2>&1; then
  for signal in TERM KILL; do
    pids=$(ps -u "$node_user" -o pid= | tr -s ' \n' ' ')
    [ -z "${pids// /}" ] && break
    echo "ending $node_user's leftover processes ($signal): $pids" >&2
    for pid in $pids; do kill -"$signal" "$pid" 2>/dev/null; done
    for _ in $(seq 20); do [ -z "$(ps -u "$node_user" -o pid=)" ] && break; sleep 0.5; done
  done
  userdel --remove "$node_user" 2>/dev/null || userdel --force --remove "$node_user"
fi
exit 0
