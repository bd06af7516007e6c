#!/usr/bin/env bash
# What differs on a GPU, in one command: builds the benchmarks against TorchSharp-cuda-linux
# (-p:TorchSharpBackend=cuda instead of TorchSharp-cpu), then runs
#   1. --cuda-check: training in float32 and bfloat16, every read-out, a pipeline load sharing one placed
#      network, ONNX export and memory, each against the CPU in the same process (exits 1 if one fails);
#   2. the forward-speed benchmark and the training benchmark with --device cuda --quick.
# Prints Markdown tables of what it measured. Needs an NVIDIA driver and network access to nuget.org for
# the CUDA package (about 2.5 GB). Usage: build/cuda-check.sh [--cpu]
#   --cpu  runs the same steps with TorchSharp-cpu on the CPU: the check of the check, where there is no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

backend=cuda device=cuda
if [[ "${1:-}" == "--cpu" ]]; then backend=cpu device=cpu; fi
if [[ "$backend" == cuda ]] && ! command -v nvidia-smi >/dev/null; then
  echo "cuda-check: no nvidia-smi, so no NVIDIA driver here; run build/cuda-check.sh --cpu to check the script on the CPU." >&2
  exit 2
fi
[[ "$backend" == cuda ]] && nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv

# Its own output folder, so the CPU build of the benchmarks elsewhere is left as it is.
out="artifacts/cuda-check-$backend"
dotnet build test/Crate.Benchmarks -c Release -p:TorchSharpBackend=$backend -o "$out" -nologo -v quiet
run() { echo; echo "\$ Crate.Benchmarks $*"; dotnet "$out/Crate.Benchmarks.dll" "$@"; }

run --cuda-check --device $device
run --device $device --quick
run --training --device $device --quick
