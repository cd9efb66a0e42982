#!/usr/bin/env bash
# IEMOCAP speech emotion recognition, 4 classes (neutral, anger, happiness + excitement, sadness), leave one
# speaker out over the 10 speakers. Without --iemocap it runs on the embedded mini-IEMOCAP, generated in stage 0.
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=100
nj=2
iemocap=               # IEMOCAP_full_release (or its parent); empty: the embedded mini-IEMOCAP
corpus_size=default    # mini-IEMOCAP size: tiny | default
corpus_seed=0
help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj N] [--iemocap DIR] [--corpus-size tiny|default]"
. recipe.sh

[ -n "$iemocap" ] || iemocap=corpora/mini_iemocap/IEMOCAP_full_release

if stage 0 "embedded mini-IEMOCAP (skipped with --iemocap)"; then
  [ "$iemocap" != corpora/mini_iemocap/IEMOCAP_full_release ] || \
    make_mini_iemocap.py --size "$corpus_size" --seed "$corpus_seed" --nj "$nj" corpora/mini_iemocap
fi

if stage 1 "data dir data/iemocap: wav.scp, text, utt2spk, utt2emo (exc merged into hap), utt2session"; then
  iemocap_data_prep.py "$iemocap" data
fi

if stage 2 "classic baseline: openSMILE eGeMAPS functionals + linear SVM, leave one speaker out"; then
  egemaps_svm_baseline.py --nj "$nj" --cache exp/egemaps_svm/egemaps.npz data/iemocap exp/egemaps_svm/results.json
fi

if stage 20 "RESULTS.md"; then
  ser_results.py --title "IEMOCAP ($iemocap)" exp RESULTS.md
fi
