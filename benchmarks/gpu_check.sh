#!/usr/bin/env bash
# The one script a session with a GPU runs (issue 6): what the GPU has, the CUDA test cases,
# the benchmarks' dark/torch ratios on the GPU, the MNIST example on the GPU, then the counts
# of the rest of the suite. Every step has its own time limit and the whole run stays within
# GPU_CHECK_BUDGET seconds (default 510, under 9 minutes; GPU_CHECK_SKIP_INSTALL=1 skips the
# pip install); a step that fails or times out is
# reported and the next one runs. Output goes to the terminal and, when $OUT is set, to
# $OUT/gpu_check.log.
#
#     bash benchmarks/gpu_check.sh            # from the repository root
#
# Without a GPU every GPU step fails fast with the reason (no CuPy / no GPU visible).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    exec > >(tee "$OUT/gpu_check.log") 2>&1
fi

BUDGET="${GPU_CHECK_BUDGET:-510}"
START=$(date +%s)
SUMMARY=()

if [ -z "${DARK_DATA:-}" ]; then
    for candidate in ../shared/data shared/data; do
        if [ -d "$candidate/MNIST/raw" ]; then
            DARK_DATA="$(cd "$candidate" && pwd)"
            break
        fi
    done
fi
export DARK_DATA="${DARK_DATA:-../shared/data}"
export PYTHONUNBUFFERED=1

# step NAME SECONDS COMMAND...: run COMMAND under `timeout`, limited to what is left of the
# budget (less a 10 s reserve), and record how it ended
step() {
    local name="$1" limit="$2"
    shift 2
    local left=$((BUDGET - ($(date +%s) - START) - 10))
    if [ "$left" -lt "$limit" ]; then
        limit="$left"
    fi
    echo
    echo "=== $name (limit ${limit}s, $(( $(date +%s) - START ))s elapsed) ==="
    if [ "$limit" -lt 5 ]; then
        echo "skipped: out of time"
        SUMMARY+=("$name: skipped (out of time)")
        return
    fi
    local begin=$(date +%s)
    timeout --kill-after=5 "$limit" "$@"
    local status=$?
    local took=$(( $(date +%s) - begin ))
    case "$status" in
        0) SUMMARY+=("$name: ok (${took}s)") ;;
        124|137) SUMMARY+=("$name: TIMED OUT after ${limit}s") ;;
        *) SUMMARY+=("$name: FAILED (exit $status, ${took}s)") ;;
    esac
}

# mnist_step NAME SECONDS COMMAND...: a step that needs the MNIST files
mnist_step() {
    if [ -d "$DARK_DATA/MNIST/raw" ]; then
        step "$@"
    else
        echo "=== $1: skipped, MNIST not found under $DARK_DATA (set DARK_DATA) ==="
        SUMMARY+=("$1: skipped (no MNIST under $DARK_DATA)")
    fi
}

# pytest_groups FILTER: the test files in 8 concurrent pytest processes (pytest-xdist is not
# assumed; on a fresh machine CuPy compiles every kernel once, so the cases are CPU-bound);
# prints each group's failures and counts, exits non-zero if any group failed
pytest_groups() {
    local filter="$1" jobs=8 logs status=0 g i
    logs="$(mktemp -d)"
    local files=(tests/test_*.py) pids=()
    for ((g = 0; g < jobs; g++)); do
        local group=()
        for ((i = g; i < ${#files[@]}; i += jobs)); do group+=("${files[$i]}"); done
        [ "${#group[@]}" -gt 0 ] || continue
        python -m pytest -k "$filter" -p no:cacheprovider -rfE --maxfail=25 "${group[@]}" \
            > "$logs/$g.log" 2>&1 &
        pids+=("$!")
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}"
        local code=$?
        # exit 5: every case of the group deselected (no CUDA case in those files)
        if [ "$code" -ne 0 ] && [ "$code" -ne 5 ]; then status=1; fi
    done
    for g in "$logs"/*.log; do
        grep -E "^(FAILED|ERROR) " "$g"
        tail -n 1 "$g"
    done
    echo "total over the groups:"
    cat "$logs"/*.log | grep -E "^=* ?[0-9]+ (passed|failed|skipped|deselected|error)" \
        | grep -oE "[0-9]+ (passed|failed|skipped|deselected|errors?|xfailed|xpassed)" \
        | awk '{count[$2] += $1} END {for (k in count) printf "  %s %d\n", k, count[k]}'
    return "$status"
}

echo "gpu_check: $(date -u +%FT%TZ), budget ${BUDGET}s, DARK_DATA=$DARK_DATA"
step "nvidia-smi" 20 nvidia-smi
step "cupy and torch see the GPU" 90 python - <<'EOF'
import cupy
print("cupy", cupy.__version__, "CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(),
      "driver", cupy.cuda.runtime.driverGetVersion())
count = cupy.cuda.runtime.getDeviceCount()
for index in range(count):
    props = cupy.cuda.runtime.getDeviceProperties(index)
    print(f"device {index}: {props['name'].decode()}, "
          f"{props['totalGlobalMem'] / 2**30:.0f} GiB, sm_{props['major']}{props['minor']}")
print("cuDNN through cupy:", end=" ")
try:
    import cupy.cuda.cudnn as cudnn
    print(cudnn.getVersion())
except Exception as error:
    print("not available:", error)
print("sum on GPU:", float(cupy.arange(10, dtype=cupy.float32).sum()))
try:
    import torch
    print("torch", torch.__version__, "cuda available:", torch.cuda.is_available())
except ImportError:
    print("torch not installed")
EOF

# the image has torch (CUDA) and CuPy; install dark itself, offline if need be
if [ -n "${GPU_CHECK_SKIP_INSTALL:-}" ]; then
    echo "(GPU_CHECK_SKIP_INSTALL set: dark is used as installed)"
else
    step "install dark" 120 bash -c 'pip install -q -e ".[test]" \
    || pip install -q --no-deps --no-build-isolation -e . \
    || { echo "pip failed: using PYTHONPATH"; exit 1; }'
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
step "dark sees the GPU" 60 python -c "import dark; print('dark.cuda.is_available():', \
dark.cuda.is_available(), dark.cuda.device_count(), dark.cuda.get_device_name()); \
print((dark.ones(3, device='cuda') * 2).sum().item())"

step "pytest: the CUDA cases (-k cuda)" 200 \
    bash -c "$(declare -f pytest_groups); pytest_groups cuda"

step "benchmark: Adam/SGD step on cuda" 45 python benchmarks/optim_step.py --device cuda \
    --repeats 7
step "benchmark: Conv2d(64,64,3) fwd+bwd on cuda" 45 python benchmarks/conv_layer.py \
    --device cuda --repeats 10
mnist_step "benchmark: MNIST epoch mlp/cnn, batch 64/256 on cuda" 120 \
    python benchmarks/mnist_epoch.py --device cuda --batches 120 --rounds 4

mnist_step "examples/mnist.py mlp on cuda, 1 epoch" 75 python examples/mnist.py \
    --model mlp --device cuda --epochs 1 --plot "" --save /tmp/gpu_check_mlp.pt
mnist_step "examples/mnist.py cnn on cuda, 1 epoch" 90 python examples/mnist.py \
    --model cnn --device cuda --epochs 1 --plot "" --save /tmp/gpu_check_cnn.pt

# the rest of the suite (the CUDA cases ran above): pass/fail/skip counts with CuPy present
step "distributed: CUDA tensors through MPI, NCCL (tests/test_distributed.py -k cuda)" 90 \
    python -m pytest -q -o addopts="" -W ignore tests/test_distributed.py -k cuda -rs
step "pytest: everything else (-k 'not cuda')" 200 \
    bash -c "$(declare -f pytest_groups); pytest_groups 'not cuda'"

echo
echo "=== summary ($(( $(date +%s) - START ))s) ==="
printf '%s\n' "${SUMMARY[@]}"
