#!/usr/bin/env bash
# Prepares this machine to play a one-node on-premises cluster for `ray up` (tests/cluster/test_ray_up_sim.py):
#   - installs openssh-server, rsync and netcat-openbsd if missing (Debian/Ubuntu, needs root);
#   - creates NODE_USER, an unprivileged account that plays the cluster's node account: Ray on the "node" runs as
#     this user, so the `ray stop` that `ray down` always runs there can only reach this simulation's processes,
#     never other Ray instances of this machine;
#   - generates a fresh ed25519 client key and host key in WORKDIR, and authorizes the client key for NODE_USER;
#   - starts its own sshd (-f WORKDIR/sshd_config): 127.0.0.1:PORT only, key-only, NODE_USER only.
# Ray's local provider has no ssh port setting (it always connects to port 22), so the cluster file reaches PORT
# through `auth.ssh_proxy_command: nc 127.0.0.1 PORT`.
# Usage: clusters/sim/setup_sshd.sh WORKDIR NODE_USER PORT     (undo: clusters/sim/teardown_sshd.sh WORKDIR NODE_USER)
# Prints the client key path on success.
set -euo pipefail
if [ $# -ne 3 ]; then echo "usage: $0 WORKDIR NODE_USER PORT" >&2; exit 2; fi
workdir=$(realpath "$1"); node_user=$2; port=$3
if [ "$(id -u)" -ne 0 ]; then echo "$0: needs root (apt-get, useradd, sshd)" >&2; exit 3; fi

missing=()
command -v /usr/sbin/sshd >/dev/null || missing+=(openssh-server)
command -v rsync >/dev/null || missing+=(rsync)
command -v nc >/dev/null || missing+=(netcat-openbsd)
if [ ${#missing[@]} -gt 0 ]; then
  # Keep the package's own sshd service from starting on 0.0.0.0:22: only our loopback one may run.
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT  # removed even if the install fails
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
  if [ "$added_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
fi

# '*' as password: no password login, but not a locked account (sshd refuses locked accounts without PAM).
id "$node_user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --password '*' "$node_user"

mkdir -p "$workdir" /run/sshd
chmod 755 /run/sshd
rm -f "$workdir"/id_ed25519 "$workdir"/id_ed25519.pub "$workdir"/host_ed25519 "$workdir"/host_ed25519.pub
ssh-keygen -q -t ed25519 -N "" -C "shapca-sim" -f "$workdir/id_ed25519"
ssh-keygen -q -t ed25519 -N "" -C "shapca-sim-host" -f "$workdir/host_ed25519"
# The key goes to the account's own ~/.ssh (sshd reads it as that user; the work folder may be private to root).
home=$(getent passwd "$node_user" | cut -d: -f6)
install -d -m 700 -o "$node_user" -g "$node_user" "$home/.ssh"
install -m 600 -o "$node_user" -g "$node_user" "$workdir/id_ed25519.pub" "$home/.ssh/authorized_keys"

cat >"$workdir/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $workdir/host_ed25519
PidFile $workdir/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers $node_user
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
StrictModes yes
X11Forwarding no
AllowTcpForwarding local
Subsystem sftp internal-sftp
EOF

/usr/sbin/sshd -t -f "$workdir/sshd_config"
/usr/sbin/sshd -f "$workdir/sshd_config" -E "$workdir/sshd.log"
for _ in $(seq 50); do
  if ssh -q -i "$workdir/id_ed25519" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
       -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=2 -p "$port" \
       "$node_user@127.0.0.1" true 2>/dev/null; then
    echo "$workdir/id_ed25519"
    exit 0
  fi
  sleep 0.2
done
echo "$0: sshd on 127.0.0.1:$port did not accept the key; see $workdir/sshd.log" >&2
exit 1
