#!/usr/bin/env bash
# IEMOCAP speech emotion recognition as in Fayek, Lech & Cavedon (2016): 4 classes (neutral, anger, happiness +
# excitement, sadness: conf/iemocap_emotions.map), a frame-level ConvNet with a silence class; 2 validation
# speakers and leave one speaker out over the other 8. Without --iemocap it runs on the embedded mini-IEMOCAP,
# generated in stage 0. The SER stages are the generic ones (egs/ser_template/s5 runs them on any data dir).
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=100
nj=2
iemocap=               # IEMOCAP_full_release (or its parent); empty: the embedded mini-IEMOCAP
corpus_size=default    # mini-IEMOCAP size: tiny | default
corpus_seed=0
validation="Ses05F Ses05M"   # the 2 validation speakers (early stopping); the other 8 give the LOSO folds
fold_by=speaker        # speaker | session (leave one session out: e.g. --fold-by session --validation Ses05)
class_map=conf/iemocap_emotions.map   # IEMOCAP's codes -> the 4 classes (exc merged into hap, the rest dropped)
nnet_config=conf/convnet_ser.yaml
fbank_config=conf/fbank.conf   # the features, and the frames the targets are labelled on
vad_config=conf/vad.yaml   # voice-activity thresholds of the frame targets
device=auto            # auto (CUDA when present) | cpu | cuda
help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj N] [--iemocap DIR] [--corpus-size tiny|default] [--validation \"SPK1 SPK2\"] [--fold-by speaker|session] [--class-map MAP]"
. recipe.sh

[ -z "$iemocap" ] || [ -d "$iemocap" ] || die "--iemocap $iemocap: no such directory"
[ -n "$iemocap" ] || iemocap=corpora/mini_iemocap/IEMOCAP_full_release

if stage 0 "embedded mini-IEMOCAP (skipped with --iemocap)"; then
  [ "$iemocap" != corpora/mini_iemocap/IEMOCAP_full_release ] || \
    make_mini_iemocap.py --size "$corpus_size" --seed "$corpus_seed" --nj "$nj" corpora/mini_iemocap
fi

if stage 1 "data dir data/iemocap: wav.scp, text, utt2spk, utt2emo (IEMOCAP's codes), utt2sess" \
    needs 0:"$iemocap"; then
  iemocap_data_prep.py "$iemocap" data
fi

if stage 2 "40 log-mel fbank (data-fbank/iemocap)" needs 1:data/iemocap/wav.scp; then
  copy_data_dir.py data/iemocap data-fbank/iemocap
  make_feats.py --feat-type fbank --config "$fbank_config" --nj "$nj" --cmd "$train_cmd" data-fbank/iemocap \
    exp/make_fbank/iemocap fbank
fi

if stage 3 "classes ($class_map) and folds: validation $validation, leave one $fold_by out over the rest" \
    needs 1:data/iemocap/utt2emo; then
  ser_make_folds.py --fold-by "$fold_by" --validation "$validation" --class-map "$class_map" data/iemocap exp/ser_folds
fi

if stage 4 "frame targets (the emotion on voiced frames, silence elsewhere) and each fold's normalised frames" \
    needs 2:data-fbank/iemocap/feats.scp 3:exp/ser_folds/folds.json; then
  ser_frame_targets.py --config "$vad_config" --feature-config "$fbank_config" data/iemocap exp/ser_folds exp/ser_targets
  ser_prepare_folds.py data-fbank/iemocap exp/ser_targets exp/ser_folds/folds.json exp/ser_folds
fi

if stage 5 "classic baseline on the same folds: openSMILE eGeMAPS functionals + linear SVM" \
    needs 1:data/iemocap/wav.scp 3:exp/ser_folds/folds.json; then
  egemaps_svm_baseline.py --nj "$nj" data/iemocap exp/ser_folds/folds.json exp/egemaps_svm
fi

if stage 6 "frame-level ConvNet ($nnet_config, the classes and silence), one job per fold" needs 4:exp/ser_folds/num_folds; then
  $cuda_cmd JOB=1:"$(cat exp/ser_folds/num_folds)" exp/convnet/log/fold.JOB.log \
    ser_train_fold.py --config "$nnet_config" --device "$device" data/iemocap exp/ser_folds/foldJOB exp/convnet/foldJOB
  ser_score.py exp/ser_folds exp/convnet
fi

if stage 20 "RESULTS.md" needs 6:exp/convnet/results.json; then
  ser_results.py --title "IEMOCAP ($iemocap)" exp/ser_folds exp RESULTS.md
fi
