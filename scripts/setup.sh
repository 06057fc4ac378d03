#!/usr/bin/env bash
# Set up edgelam_ns3 from nothing, idempotently: Debian packages (ns-3 3.37 and its CMake
# needs), a virtual environment in .venv, the pinned Python dependencies, and the project
# installed editable (its C++ built by scikit-build-core). Once done, a second call checks and
# returns in seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.edgelam-setup"

# ns3: Debian's libns3-dev CMake config references the helper binaries of package ns3;
# libgsl-dev libxml2-dev libsqlite3-dev libpython3-dev: without them its CMake config fails.
# libzmq3-dev cppzmq-dev: the edgelam-zmq module (bridge.transport zmq).
APT_PKGS=(libns3-dev ns3 libgsl-dev libxml2-dev libsqlite3-dev libpython3-dev python3-dev
          python3-venv cmake g++ ninja-build libzmq3-dev cppzmq-dev)

missing=()
for p in "${APT_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing Debian packages. Run, then try again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

PY="${PYTHON:-python3}"
# The editable install maps each Python module to its file when it is installed: a module
# added, moved or removed since then needs a reinstall, so the module list is in the stamp.
want="$({ cat pyproject.toml scripts/setup.sh; find edgelam_ns3 models -name '*.py' \
          -not -path '*/__pycache__/*' | LC_ALL=C sort; } | sha256sum | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] \
   && OMP_NUM_THREADS=1 "$VENV/bin/python" -c "import edgelam_ns3._core" >/dev/null 2>&1; then
  echo "setup: up to date (.venv)"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
# torch and Sionna in one command: a lone 'torch' lets pip pick a CUDA build of several GB,
# and Sionna without torch pinned beside it can pull Sionna 1.x with TensorFlow.
echo "setup: installing torch, Sionna and the build tools (first time: a few minutes)"
"${PIP[@]}" "torch==2.13.0" "sionna-no-rt==2.2.0" "scikit-build-core>=0.10" "pybind11>=3.0"
echo "setup: building and installing edgelam_ns3 (editable)"
# --no-build-isolation: editable rebuild-on-import needs the build tools in the venv.
"${PIP[@]}" --no-build-isolation -e ".[test]"
OMP_NUM_THREADS=1 "$VENV/bin/python" -c "import edgelam_ns3._core" \
  || { echo "setup: the compiled bridge does not import" >&2; exit 1; }
echo "$want" > "$STAMP"
echo "setup: done"
