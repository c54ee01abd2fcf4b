#!/usr/bin/env bash
# Run ON THE DEVICE MACHINE (one GPU; CUDA, nvcc, a compiler, CMake, ninja and
# Python torch 2.x there; no registry), through the device tool:
#
#   scripts/device/fetch_debs.sh      # here, once: .device/debs (git-ignored)
#   device run: command "bash scripts/device/gpu_checks.sh", carry [".device/debs"], timeout_s 600
#
# Builds this project against the CUDA LibTorch inside python3's torch and the
# NCCL of its nvidia-nccl package, with the other libraries unpacked from
# .device/debs into a prefix, then runs the checks of issue 7 and writes
# $OUT/gpu_report.json (one entry per check: pass/fail/skipped and figures)
# plus the logs. Stays inside GPU_CHECKS_BUDGET_S (default 480 s): the
# training runs that no longer fit are reported as skipped.
#
# To try the script's own logic without a GPU (the CUDA checks then fail):
#   GPU_CHECKS_REUSE_BUILD=1 BUILD_DIR=build GPU_CHECKS_CTEST_ARGS="-R device" scripts/device/gpu_checks.sh
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
OUT="${OUT:-$ROOT/.device/out}"
mkdir -p "$OUT"
DEBS="${DEBS_DIR:-$ROOT/.device/debs}"
PREFIX="${DEPS_PREFIX:-/tmp/hmt-deps}"
BUILD="${BUILD_DIR:-$ROOT/build-cuda}"
BUDGET="${GPU_CHECKS_BUDGET_S:-480}"
START=$(date +%s)
CHECKS="$OUT/checks.jsonl"
: > "$CHECKS"

elapsed() { echo $(( $(date +%s) - START )); }
log() { echo "[gpu_checks $(elapsed)s] $*"; }
# Python outside the carried libraries: LD_LIBRARY_PATH is only ever set for
# this project's own programs.
py() { env -u LD_LIBRARY_PATH python3 "$@"; }
# record NAME STATUS [JSON-OBJECT-OF-FIGURES]
record() {
  local figures="${3:-}"
  [ -n "$figures" ] || figures='{}'
  py - "$1" "$2" "$figures" >> "$CHECKS" <<'EOF'
import json, sys
entry = {"check": sys.argv[1], "status": sys.argv[2]}
entry.update(json.loads(sys.argv[3]))
print(json.dumps(entry))
EOF
  log "$1: $2"
}

finish() {
  py - "$CHECKS" "$OUT/gpu_report.json" "$(elapsed)" "$BUDGET" <<'EOF'
import json, sys
checks = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
env = next((c for c in checks if c["check"] == "environment"), {})
report = {
    "script": "scripts/device/gpu_checks.sh",
    "elapsed_s": int(sys.argv[3]),
    "budget_s": int(sys.argv[4]),
    "all_passed": all(c["status"] in ("pass", "skipped") for c in checks) and any(c["status"] == "pass" for c in checks),
    "environment": {k: v for k, v in env.items() if k not in ("check", "status")},
    "checks": [c for c in checks if c["check"] != "environment"],
}
json.dump(report, open(sys.argv[2], "w"), indent=2)
print("\n%-44s %-8s %s" % ("check", "status", "figures"))
for c in report["checks"]:
    figures = {k: v for k, v in c.items() if k not in ("check", "status", "log", "rows", "failed_tests")}
    print("%-44s %-8s %s" % (c["check"], c["status"], json.dumps(figures)[:150]))
print("all_passed: %s  (%d s)" % (report["all_passed"], report["elapsed_s"]))
EOF
}
trap finish EXIT

# --- environment ----------------------------------------------------------
CXX_BIN="$(command -v c++ || command -v g++ || true)"
env_json=$(py - "$CXX_BIN" <<'EOF'
import json, os, platform, subprocess, sys
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception as e:
        return "unavailable: %s" % e
info = {"os": dict(l.split("=", 1) for l in open("/etc/os-release").read().split("\n") if "=" in l).get("PRETTY_NAME", "").strip('"'),
        "glibc": platform.libc_ver()[1], "cores": os.cpu_count(), "compiler": run(sys.argv[1], "--version").split("\n")[0] if sys.argv[1] else "none",
        "gpu": run("nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"),
        "nvcc": run("nvcc", "--version").split("\n")[-1]}
try:
    import torch
    info.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cmake_prefix=torch.utils.cmake_prefix_path,
                cxx11_abi=bool(torch._C._GLIBCXX_USE_CXX11_ABI), cuda_available=torch.cuda.is_available())
except Exception as e:
    info["torch"] = "import failed: %s" % e
print(json.dumps(info))
EOF
)
record environment info "$env_json"
echo "$env_json" | py -m json.tool
if [ -z "$CXX_BIN" ]; then
  record build fail '{"error": "no C++ compiler (c++/g++) on the device machine"}'
  exit 1
fi

# --- dependencies from .device/debs ----------------------------------------
LIB="$PREFIX/usr/lib/x86_64-linux-gnu"
if ! ls "$DEBS"/*.deb > /dev/null 2>&1; then
  record dependencies fail "{\"error\": \"no .deb in $DEBS: run scripts/device/fetch_debs.sh here and carry .device/debs\"}"
  exit 1
fi
rm -rf "$PREFIX" && mkdir -p "$PREFIX"
for f in "$DEBS"/*.deb; do dpkg -x "$f" "$PREFIX"; done
# pkg-config with the prefix as sysroot, loading its own library only.
cat > "$PREFIX/pkg-config" <<EOF
#!/bin/sh
export LD_LIBRARY_PATH="$LIB" PKG_CONFIG_SYSROOT_DIR="$PREFIX" PKG_CONFIG_LIBDIR="$LIB/pkgconfig:$PREFIX/usr/share/pkgconfig"
exec "$PREFIX/usr/bin/pkgconf" "\$@"
EOF
chmod +x "$PREFIX/pkg-config"
# Open MPI and PMIx were built for /usr: these relocate them into the prefix,
# keep one machine's jobs on shared memory, and let a process without mpirun
# (the NCCL case) initialise as a singleton without starting an orted.
export OPAL_PREFIX="$PREFIX/usr" PMIX_INSTALL_PREFIX="$LIB/pmix2" PMIX_MCA_mca_base_component_path="$LIB/pmix2/lib/pmix"
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_mca_base_component_show_load_errors=0
export OMPI_MCA_ess_singleton_isolated=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
DEPS_LD="$LIB"
with_deps() { LD_LIBRARY_PATH="$DEPS_LD${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }
record dependencies pass "{\"packages\": $(ls "$DEBS"/*.deb | wc -l), \"prefix\": \"$PREFIX\"}"

# --- configure and build against the CUDA LibTorch --------------------------
if [ -n "${GPU_CHECKS_REUSE_BUILD:-}" ] && [ -x "$BUILD/hmt" ]; then
  record build skipped "{\"reason\": \"GPU_CHECKS_REUSE_BUILD: using $BUILD as it is\"}"
else
paths=$(py <<'EOF'
import glob, os, site, shutil, torch
roots = site.getsitepackages() + [os.path.dirname(os.path.dirname(torch.__file__))]
def find(pattern):
    for r in roots:
        hits = sorted(glob.glob(os.path.join(r, "nvidia", "**", pattern), recursive=True))
        if hits:
            return os.path.dirname(hits[0])
    return ""
nvcc = shutil.which("nvcc") or ""
cuda_root = os.path.dirname(os.path.dirname(os.path.realpath(nvcc))) if nvcc else ""
nccl_inc = find("nccl.h")
nccl_lib = find("libnccl.so*")
print(torch.utils.cmake_prefix_path, cuda_root, os.path.dirname(nccl_inc) if nccl_inc else "", nccl_lib)
EOF
)
read -r TORCH_PREFIX CUDA_ROOT NCCL_HOME NCCL_LIBDIR <<< "$paths"
log "torch cmake prefix: $TORCH_PREFIX; CUDA toolkit: $CUDA_ROOT; NCCL: $NCCL_HOME (lib $NCCL_LIBDIR)"
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
link_flags="-Wl,-rpath-link,$LIB -Wl,-rpath-link,$LIB/openmpi/lib"
configure_start=$(date +%s)
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DCMAKE_CXX_COMPILER="$CXX_BIN" \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PREFIX/usr" \
  -DCMAKE_EXE_LINKER_FLAGS="$link_flags" -DCMAKE_SHARED_LINKER_FLAGS="$link_flags" \
  -DPKG_CONFIG_EXECUTABLE="$PREFIX/pkg-config" \
  -DMPI_CXX_COMPILER=/nonexistent -DMPI_C_COMPILER=/nonexistent -DMPI_CXX_SKIP_MPICXX=ON \
  -DMPI_CXX_HEADER_DIR="$LIB/openmpi/include" -DMPI_CXX_LIB_NAMES=mpi -DMPI_mpi_LIBRARY="$LIB/openmpi/lib/libmpi.so" \
  -DMPIEXEC_EXECUTABLE="$PREFIX/usr/bin/mpirun.openmpi" \
  -DHDF5_C_COMPILER_EXECUTABLE=/nonexistent -DHDF5_ROOT="$LIB/hdf5/serial" -DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON \
  -DICU_ROOT="$PREFIX/usr" -DOPENSSL_ROOT_DIR="$PREFIX/usr" \
  -DHMT_WITH_NCCL=ON -DNCCL_HOME="$NCCL_HOME" -DCUDAToolkit_ROOT="$CUDA_ROOT" \
  > "$OUT/configure.log" 2>&1
configured=$?
if [ $configured -eq 0 ]; then
  with_deps cmake --build "$BUILD" -j "$(nproc)" > "$OUT/build.log" 2>&1
  built=$?
else
  built=1
fi
build_s=$(( $(date +%s) - configure_start ))
if [ $built -ne 0 ]; then
  tail -40 "$OUT/configure.log" "$OUT/build.log" 2>/dev/null
  record build fail "{\"seconds\": $build_s, \"configured\": $([ $configured -eq 0 ] && echo true || echo false), \"log\": \"configure.log, build.log\"}"
  exit 1
fi
torch_line=$(grep -m1 "LibTorch .*CUDA" "$OUT/configure.log" | sed 's/^-- //')
nccl_line=$(grep -m1 "NCCL communicator:" "$OUT/configure.log" | sed 's/^-- //')
record build pass "$(py -c 'import json,sys; print(json.dumps({"seconds": int(sys.argv[1]), "libtorch": sys.argv[2], "nccl": sys.argv[3]}))' "$build_s" "$torch_line" "$nccl_line")"
fi
HMT="$BUILD/hmt"
TESTS="$BUILD/hmt_tests"

# --- the test suite with the device-aware tests on the GPU ---------------
(cd "$BUILD" && HMT_TEST_DEVICE=cuda with_deps ctest -j 8 --timeout 300 --output-on-failure ${GPU_CHECKS_CTEST_ARGS:-}) > "$OUT/ctest.log" 2>&1
ctest_rc=$?
summary=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$OUT/ctest.log" | tail -1)
failed=$(sed -n '/The following tests FAILED/,$p' "$OUT/ctest.log" | grep -E '^\s+[0-9]+ - ' | sed 's/^\s*//' | head -40 |
         py -c 'import json,sys; print(json.dumps([l.strip() for l in sys.stdin]))')
record test_suite_cuda "$([ $ctest_rc -eq 0 ] && echo pass || echo fail)" \
  "$(py -c 'import json,sys; print(json.dumps({"summary": sys.argv[1], "failed_tests": json.loads(sys.argv[2]), "log": "ctest.log"}))' "$summary" "$failed")"

# --- the [cuda] cases once more, with their output: none may skip ---------
HMT_TEST_DEVICE=cuda with_deps "$TESTS" "[cuda]" -s -r compact --use-colour no > "$OUT/cuda_tests.log" 2>&1
cuda_rc=$?
skips=$(grep -c "skipped: no CUDA device" "$OUT/cuda_tests.log")
cases=$(grep -oE "test cases?: [0-9]+|[0-9]+ test cases?" "$OUT/cuda_tests.log" | tail -1)
record cuda_cases_on_gpu "$([ $cuda_rc -eq 0 ] && [ "$skips" -eq 0 ] && echo pass || echo fail)" \
  "{\"skipped_for_no_device\": $skips, \"summary\": \"$cases\", \"log\": \"cuda_tests.log\"}"

# --- hmt score --grads: GPU fp32 against the CPU ----------------------------
# run_case LOG SPEC: the Catch2 cases SPEC names, their output in $OUT/LOG.
run_case() { with_deps "$TESTS" "$2" --use-colour no > "$OUT/$1" 2>&1; }
run_case score_parity.log "score --device cuda: --grads on the GPU in fp32 equals the CPU within 1e-4"
score_rc=$?
diff=$(sed -n 's/^cuda parity: score --grads max relative difference //p' "$OUT/score_parity.log" | tail -1)
record score_grads_gpu_equals_cpu "$([ $score_rc -eq 0 ] && [ -n "$diff" ] && echo pass || echo fail)" \
  "{\"max_relative_difference\": ${diff:-null}, \"tolerance\": 1e-4, \"families\": [\"llama\", \"gpt2\", \"opt\"], \"log\": \"score_parity.log\"}"

# --- NCCL: one rank initialises, all-reduces, is torn down ------------------
run_case nccl.log "nccl: one rank initialises*"
nccl_rc=$?
nccl_version=$(sed -n 's/^nccl: version code //p' "$OUT/nccl.log" | tail -1)
record nccl_single_rank "$([ $nccl_rc -eq 0 ] && [ -n "$nccl_version" ] && echo pass || echo fail)" \
  "{\"nccl_version_code\": ${nccl_version:-null}, \"log\": \"nccl.log\"}"

# --- bf16 training steps, both stages: tokens/s, GPU memory, MFU -------------
# `hmt train` is not on main yet (issue 5), so the stage runs use `hmt bench`:
# the same run_segments + backward the trainer calls, forward under bf16
# autocast, segment checkpointing on, MFU against a bf16 8192^3 matmul timed
# in each configuration's process. Once `hmt train` lands, add its run here.
train_run() {  # NAME STAGE MODEL-ARGS...
  local name=$1 stage=$2
  shift 2
  if [ "$(elapsed)" -ge "$BUDGET" ]; then
    record "$name" skipped "{\"reason\": \"over the time budget of $BUDGET s\"}"
    return
  fi
  local recall=on
  [ "$stage" = 1 ] && recall=off
  with_deps "$HMT" bench "$@" --segments 2,16 --checkpoint on --device cuda --dtype bf16 --recall "$recall" \
    --json "$OUT/$name.json" > "$OUT/$name.log" 2>&1
  local rc=$?
  if [ $rc -ne 0 ]; then
    record "$name" fail "{\"log\": \"$name.log\"}"
    return
  fi
  record "$name" pass "$(py - "$OUT/$name.json" "$stage" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))["configurations"]
by_s = {r["segments"]: r for r in rows}
mib = lambda b: round(b / 2**20, 1)
out = {"stage": int(sys.argv[2]), "rows": [
    {"S": r["segments"], "tokens_per_s": round(r["tokens_per_second"]), "mfu": round(r["mfu"], 4),
     "step_ms": round(1000 * r["median_seconds"], 2), "gpu_peak_mib": mib(r["peak_device_bytes"]),
     "gpu_weights_mib": mib(r["baseline_device_bytes"]), "bf16_peak_tflops": round(r["peak_flops"] / 1e12, 1)}
    for r in rows]}
s2, s16 = by_s[2], by_s[16]
out["tokens_per_s_S16"] = round(s16["tokens_per_second"])
out["mfu_S16"] = round(s16["mfu"], 4)
out["gpu_peak_mib_S2"] = mib(s2["peak_device_bytes"])
out["gpu_peak_mib_S16"] = mib(s16["peak_device_bytes"])
out["memory_ratio_S16_S2"] = round(s16["peak_device_bytes"] / s2["peak_device_bytes"], 3)
out["memory_within_1.5x"] = out["memory_ratio_S16_S2"] <= 1.5
out["mfu_at_least_40pct"] = s16["mfu"] >= 0.40
print(json.dumps(out))
EOF
)"
}
# The demo model (configs/model/tiny_llama.yaml, configs/hmt/tiny.yaml;
# bench has no kv-heads option: 4 kv heads instead of 2), 36 steps.
DEMO=(--vocab 8000 --hidden 128 --layers 2 --heads 4 --segment-length 64 --sensory 8 --batch 8 --steps 36)
train_run train_demo_bf16_stage1 1 "${DEMO[@]}"
train_run train_demo_bf16_stage2 2 "${DEMO[@]}"
# A model large enough to load the GPU: what MFU the code reaches there.
LARGE=(--vocab 32000 --hidden 2048 --layers 8 --heads 16 --segment-length 512 --sensory 32 --batch 8 --steps 8)
train_run train_large_bf16_stage1 1 "${LARGE[@]}"
train_run train_large_bf16_stage2 2 "${LARGE[@]}"
