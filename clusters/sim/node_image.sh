#!/usr/bin/env bash
# Plays the "node image" of the simulated cluster: run by its setup_commands as the node account, it gives that
# account a Python environment with everything of this machine's project environment (VENV), without installing
# anything. The environment's own interpreter may be out of the account's reach (e.g. a pyenv build under /root),
# so ~/nodeenv is a fresh venv of the system's python3.X of the same version, which loads VENV's site-packages
# (through a .pth file), plus VENV's console scripts (ray, mlflow, ...) pointed at the new interpreter.
# Usage: clusters/sim/node_image.sh VENV
set -euo pipefail
venv=$(realpath "$1")
version=$(sed -n 's/^version *= *\([0-9]*\.[0-9]*\).*/\1/p' "$venv/pyvenv.cfg")
base=$(command -v "python$version" || true)
if [ -z "$base" ]; then echo "$0: no python$version on PATH for $(id -un) (the project's venv is $version)" >&2; exit 1; fi
node=$HOME/nodeenv
[ -x "$node/bin/python" ] || "$base" -m venv --without-pip "$node"
site=$("$node/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
# A .pth line that starts with `import` runs: addsitedir also processes VENV's own .pth files (editable installs).
echo "import site; site.addsitedir('$venv/lib/python$version/site-packages')" >"$site/shapca_node_image.pth"
for script in "$venv"/bin/*; do
  if [ -f "$script" ] && head -c 200 "$script" | head -n 1 | grep -q "^#!$venv/bin/python"; then
    name=$(basename "$script")
    [ -e "$node/bin/$name" ] && continue
    { echo "#!$node/bin/python"; tail -n +2 "$script"; } >"$node/bin/$name"
    chmod +x "$node/bin/$name"
  fi
done
echo "node image ready: $node ($("$node/bin/python" --version), packages of $venv)"
