#!/usr/bin/env bash
# Sets up .venv with everything the project needs, on a fresh machine or an existing one.
# torch is installed first and on its own: where a torch is already there (a CUDA build on a GPU node) it is kept;
# otherwise torch==2.13.0 is installed (the CPU wheel on CPU-only machines like CI).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[images,postgres,test]"
echo "setup: $(.venv/bin/python -c 'import torch, ray, transformers; print("torch", torch.__version__, "ray", ray.__version__, "transformers", transformers.__version__)')"
