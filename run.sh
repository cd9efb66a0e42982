#!/usr/bin/env bash
# The whole experiment of Fayek, Lech & Cavedon (2016) and its follow-ups, as numbered stages. Each stage runs
# a corpus recipe under egs/ (each also runnable alone, with finer stages). Without --timit / --iemocap the
# embedded, license-free corpora are generated and used. Installs what it needs on the first run.
cd "$(dirname "$0")"
. ./path.sh

stage=1
stop_stage=100
nj=2
timit=        # LDC TIMIT directory (TRAIN/ and TEST/); empty: the embedded mini-TIMIT
iemocap=      # IEMOCAP_full_release directory; empty: the embedded mini-IEMOCAP
help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj N] [--timit DIR] [--iemocap DIR]"
. recipe.sh

absolute() { [ -z "$1" ] || realpath "$1"; }
timit=$(absolute "$timit")
iemocap=$(absolute "$iemocap")

if stage 1 "TIMIT phone recognition: GMM-HMM mono/tri1/tri2, alignments, the hybrid ConvNet-HMM; sclite PER"; then
  egs/timit/s5/run.sh --nj "$nj" --timit "$timit"
fi

if stage 2 "IEMOCAP emotion recognition: data (4 classes), eGeMAPS + linear SVM leave-one-speaker-out baseline"; then
  if [ -d egs/iemocap/s5 ]; then
    egs/iemocap/s5/run.sh --nj "$nj" --iemocap "$iemocap"
  else
    log "egs/iemocap/s5 is not part of this version yet; skipped"
  fi
fi

if stage 9 "RESULTS.md: the recipes' result tables in one file"; then
  {
    echo "# asrser results"
    for results in egs/*/s5/RESULTS.md; do
      [ -f "$results" ] || continue
      echo
      echo "## $(dirname "$(dirname "$results")" | xargs basename) ($results)"
      sed -e '1{/^# /d}' -e "s#](\([^)/]*\.png\))#]($(dirname "$results")/\1)#" "$results"
    done
  } > RESULTS.md.tmp && mv RESULTS.md.tmp RESULTS.md
  log "wrote RESULTS.md"
fi
