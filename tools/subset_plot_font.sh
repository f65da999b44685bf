#!/usr/bin/env bash
# Regenerates crates/vladapt-plot/fonts/DejaVuSans-plot.ttf: DejaVu Sans (Debian fonts-dejavu-core)
# reduced to Latin, Latin-1, Latin Extended-A, Greek and the punctuation/maths signs plots use,
# so the font embedded in the binary stays small. Needs fontTools (`pip install fonttools`).
# Deterministic: fontTools writes the same bytes for the same input and options.
set -euo pipefail
src="${1:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}"
out="$(dirname "$0")/../crates/vladapt-plot/fonts/DejaVuSans-plot.ttf"
python3 -m fontTools.subset "$src" \
  --unicodes="U+0020-007E,U+00A0-017F,U+0370-03FF,U+2010-2027,U+2030-205E,U+2190-21FF,U+2200-22FF,U+25A0-25FF" \
  --layout-features='kern,liga' --no-hinting --desubroutinize \
  --output-file="$out"
ls -l "$out"
