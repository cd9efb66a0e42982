# How parallel jobs run. Every stage program takes "--cmd" and calls it Kaldi-style:
#   $train_cmd JOB=1:N exp/x/log/name.JOB.log program args...
# and a call may add what its jobs need: $cuda_cmd --gpu 2 --num-threads 2 --mem 8G --time 4:00:00 ...
#   local  the jobs run as processes on this machine, at most --max-jobs at a time (Kaldi's run.pl).
#   slurm  each call is one Slurm job array, sbatch --array=1-N (Kaldi's slurm.pl); conf/slurm.conf maps the
#          options above to sbatch options and sets partitions. Every node must see this checkout, its .venv
#          and the recipe's directories at the same paths (a shared filesystem).
# Choose here, or per run: ASRSER_BACKEND=slurm ./run.sh
asrser_backend=${ASRSER_BACKEND:-local}
case $asrser_backend in
  local)
    max_jobs=${max_jobs:-$(nproc)}
    export train_cmd="asrser-run --backend local --max-jobs $max_jobs"
    export decode_cmd="$train_cmd"
    # nets (SER folds, transfer grid): one GPU of its own per job where there are GPUs, else as train_cmd
    if [ -n "$(ls -A /proc/driver/nvidia/gpus 2>/dev/null)" ]; then
      export cuda_cmd="asrser-run --backend local --gpu 1 --max-jobs $max_jobs"
    else
      export cuda_cmd="$train_cmd"
    fi
    ;;
  slurm)
    export train_cmd="asrser-run --backend slurm --mem 2G"
    export decode_cmd="asrser-run --backend slurm --mem 4G"
    if sinfo --noheader --format=%G 2>/dev/null | grep -q gpu; then
      export cuda_cmd="asrser-run --backend slurm --gpu 1 --mem 8G"
    else
      export cuda_cmd="asrser-run --backend slurm --mem 4G"
    fi
    ;;
  *)
    echo "cmd.sh: unknown backend '$asrser_backend' (ASRSER_BACKEND): local or slurm" >&2
    return 1 2>/dev/null || exit 1
    ;;
esac
