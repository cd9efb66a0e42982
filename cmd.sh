# How parallel jobs run. Every stage program takes "--cmd" and calls it Kaldi-style:
#   $train_cmd JOB=1:N exp/x/log/name.JOB.log program args...
# The local backend runs jobs as processes on this machine, at most --max-jobs at a time.
# A cluster backend plugs in here (asrser-run --backend NAME) without touching the recipes.
max_jobs=${max_jobs:-$(nproc)}
export train_cmd="asrser-run --backend local --max-jobs $max_jobs"
export decode_cmd="asrser-run --backend local --max-jobs $max_jobs"
