#!/usr/bin/env bash
# One step of the GPU session (issue 5) on the GPU machine, each within the device's 10 minutes per command.
#
# Usage on the GPU machine, from the repository root, after the DALI parts were uploaded
# (../shared/tools/device-dali-parts prints the upload calls):
#     bash benchmarks/gpu_session.sh STEP
# Steps, in the order a session runs them (each writes its files and a STEP.log into $OUT):
#     check     versions, GPU, and the synthetic datasets built once into $DALI_SR_CACHE
#     tests     the gpu-marked tests and the traced GPU graphs, JUnit XML
#     probe     roi-probe: which ROI decode paths crash or differ on this GPU
#     matrix1   bench-matrix, pairs in png                 (files h100-part1.*)
#     matrix2   bench-matrix, pairs in jpeg (x decoder load) (files h100-part2.*)
#     matrix3   bench-matrix, pairs in jpeg2000 and raw    (files h100-part3.*)
#     matrix4   bench-matrix, clips in png and jpeg        (files h100-part4.*)
#     memory    loader GPU memory at batch 32, GT 256, over 20 epochs
#     train     train-demo (EDSR baseline, GT 192, batch 16, AMP) with raw storage
# Back on the development machine: bench-matrix --merge the four parts into h100-<date>.
set -euo pipefail
step=${1:?usage: bash benchmarks/gpu_session.sh check|tests|probe|matrix1|matrix2|matrix3|matrix4|memory|train}
out=${OUT:?OUT must name the folder whose files come back}
if [ ! -d /tmp/site/nvidia/dali ]; then  # unpack the uploaded DALI parts once per machine
  [ -d /tmp/dp ] || { echo "no DALI parts in /tmp/dp: upload them first (device-dali-parts)" >&2; exit 2; }
  mkdir -p /tmp/site
  cat /tmp/dp/part_* | python3 -c "import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)" \
    | tar -x -C /tmp/site
fi
export PYTHONPATH=/tmp/site:$PWD DALI_SR_CACHE=${DALI_SR_CACHE:-/tmp/dali_sr_cache}
grid=(--device gpu --workers 16 --runs 3 --batches 40 --warmup 3 --out "$out")
case "$step" in
  check)
    nvidia-smi -L
    python3 -c "import nvidia.dali as d, torch, cv2; print('DALI', d.__version__, 'torch', torch.__version__, \
'cv2', cv2.__version__, torch.cuda.get_device_name())"
    python3 -c "
import time
from dali_sr.bench.runner import SYNTHETIC
t = time.time()
for codec in ('png', 'jpeg', 'jpeg2000', 'raw'):
    SYNTHETIC['synthetic'][0](512, codec)
for codec in ('png', 'jpeg'):
    SYNTHETIC['synthetic-clips'][0](8, codec)
print(f'synthetic datasets ready in {time.time() - t:.0f} s')" ;;
  tests) python3 -m pytest tests/test_gpu.py tests/test_gpu_clips.py tests/test_gpu_graph.py -rs -q \
           --timeout 120 --junitxml "$out/gpu-tests.xml" ;;  # pytest-timeout is on the GPU machine's image
  probe) python3 -m dali_sr roi-probe --device gpu --out "$out" ;;
  matrix1) python3 -m dali_sr bench-matrix "${grid[@]}" --codecs png --no-clips --name h100-part1 ;;
  matrix2) python3 -m dali_sr bench-matrix "${grid[@]}" --codecs jpeg --no-clips --name h100-part2 ;;
  matrix3) python3 -m dali_sr bench-matrix "${grid[@]}" --codecs jpeg2000,raw --no-clips --name h100-part3 ;;
  matrix4) python3 -m dali_sr bench-matrix "${grid[@]}" --no-pairs --name h100-part4 ;;
  memory) python3 -m dali_sr bench synthetic --device gpu --set gt_size=256 --set batch_size_per_gpu=32 \
            --rss-epochs 20 --json "$out/h100-memory.json" ;;
  train) python3 -m dali_sr train-demo --device gpu --codec raw --json "$out/h100-train-raw.json" ;;
  *) echo "unknown step $step" >&2; exit 2 ;;
esac 2>&1 | tee "$out/$step.log"
