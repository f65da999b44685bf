#!/bin/bash
# Sharded embedding as a Slurm job array; the merge runs once every task succeeded.
#
#   bash deploy/slurm/embed-array.sh     # submits the array (SHARDS tasks) and, after it, the merge
#   sbatch deploy/slurm/embed-array.sh   # the array only (0-3); merge by hand afterwards
#
# Each array task embeds shard SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of SHARDS
# (`--shards` reads both variables). A task that fails or is preempted can be resubmitted
# (`sbatch --array=2 deploy/slurm/embed-array.sh`): it resumes from its first missing part.
#SBATCH --job-name=vladapt-embed
#SBATCH --array=0-3
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=12:00:00
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail

VLADAPT=${VLADAPT:-vladapt}
MODEL=${MODEL:-$HOME/models/clip-vit-b32}
MANIFEST=${MANIFEST:-$HOME/data/manifest.csv}
OUT=${OUT:-$HOME/embeddings/run1}
SHARDS=${SHARDS:-4}   # = the number of array tasks

if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
  # Submitted by hand (not yet inside the array): submit the array, then the merge after it.
  mkdir -p logs
  jid=$(sbatch --parsable --array=0-$((SHARDS - 1)) "$0")
  sbatch --dependency=afterok:"$jid" --job-name=vladapt-merge --cpus-per-task=1 --mem=4G \
    --output=logs/%x-%j.out --wrap="$VLADAPT embed-dataset merge --out $OUT --npy"
  echo "submitted array $jid and its merge"
  exit 0
fi

exec "$VLADAPT" embed-dataset run --model "$MODEL" --manifest "$MANIFEST" --out "$OUT" \
  --shards "$SHARDS" --batch-size 32 --part-size 2048 --no-progress
