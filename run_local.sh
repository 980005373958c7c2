#!/usr/bin/env bash
# Run the real batch pipeline on this machine (Beam DirectRunner) over sample photos that ship
# with scikit-image and scikit-learn, then print where the results are and a short summary.
#
# Usage: ./run_local.sh [pipeline flags...]
#   ./run_local.sh                                   # defaults: --method hybrid --energy deep --scale 0.5
#   ./run_local.sh --target_width 256 --target_height 256   # flags go to `python -m pipeline`
#   ./run_local.sh --direct_running_mode=multi_processing --direct_num_workers=2
#   ./run_local.sh --skip_existing                   # rerun: finished images are skipped
#   ./run_local.sh --input ~/Pictures/trip           # your photos instead of the samples
# Environment: SEMANTIC_COMPRESS_LOCAL=folder (default ./local_run) holds input/ and output/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/ensure_venv.sh"
py="$root/.venv/bin/python"
for arg in "$@"; do   # the job's usage or build, once (the summary and report steps parse the
    case "$arg" in -h|--help|--version) cd "$root"; exec "$py" -m pipeline "$arg" ;; esac
done                  # flags too)
work="${SEMANTIC_COMPRESS_LOCAL:-$root/local_run}"
input="$work/input"
output="$work/output"
run_id="local-$(date -u +%Y%m%dT%H%M%SZ)"

# the sample photos, unless the caller names inputs (--input adds to the others: job review 46)
inputs=(--input "$input")
for arg in "$@"; do
    case "$arg" in --input|--input=*|--input_list|--input_list=*) inputs=() ;; esac
done

# Sample photos (written once): 6 JPEGs and a PNG, 300-1000 px; not where inputs are named.
[ ${#inputs[@]} -eq 0 ] || "$py" - "$input" <<'PYEOF'
import os, sys
from PIL import Image
from skimage import data
from sklearn.datasets import load_sample_images

folder = sys.argv[1]
os.makedirs(os.path.join(folder, "sklearn"), exist_ok=True)
photos = {"astronaut.jpg": data.astronaut(), "coffee.png": data.coffee(),
          "chelsea.jpg": data.chelsea(), "rocket.jpg": data.rocket(),
          "hubble_deep_field.jpg": data.hubble_deep_field()}
sk = load_sample_images()
for path, arr in zip(sk.filenames, sk.images):
    photos["sklearn/" + os.path.basename(path)] = arr
written = 0
for name, arr in photos.items():
    target = os.path.join(folder, name)
    if not os.path.exists(target):
        img = Image.fromarray(arr)
        img.save(target, quality=92) if name.endswith(".jpg") else img.save(target)
        written += 1
print(f"sample photos: {len(photos)} in {folder}" + (f" ({written} written)" if written else ""),
      file=sys.stderr)
PYEOF

args=(${inputs[@]+"${inputs[@]}"} --output "$output" --run_id "$run_id" --runner DirectRunner "$@")
echo "running: python -m pipeline ${args[*]}" >&2
cd "$root"
"$py" -m pipeline "${args[@]}"

# One-screen summary read back from this run's manifest (same flags, so --output / --manifest /
# --run_id given by the caller are honoured).
"$py" - "${args[@]}" <<'PYEOF'
import sys
from pipeline.report import summary_report
from pipeline.options import parse_args

job, _ = parse_args(sys.argv[1:])
print(summary_report(job.manifest, job.run_id, job.storage_options))
PYEOF

# The full report for this run (HTML with plots, python -m pipeline.report); prints its path.
"$py" - "$work/reports" "${args[@]}" <<'PYEOF'
import os, sys
from pipeline.options import parse_args
from pipeline.report import build_report, load_manifest, write_report

folder = sys.argv[1]
job, _ = parse_args(sys.argv[2:])
path = os.path.join(folder, f"report-{job.run_id}.html")
table = load_manifest(job.manifest, [job.run_id], job.storage_options)
write_report(build_report(table, manifest=job.manifest, runs=[job.run_id]), path, "html")
print(f"report: {path}")
PYEOF
