#!/usr/bin/env bash
# IEMOCAP speech emotion recognition as in Fayek, Lech & Cavedon (2016): 4 classes (neutral, anger, happiness +
# excitement, sadness: conf/iemocap_emotions.map), a frame-level ConvNet with a silence class; 2 validation
# speakers and leave one speaker out over the other 8. Without --iemocap it runs on the embedded mini-IEMOCAP,
# generated in stage 0. Stages 2-20 are the generic SER recipe's (egs/ser_template/s5/run.sh) on data/iemocap.
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=100
nj=2
iemocap=               # IEMOCAP_full_release (or its parent); empty: the embedded mini-IEMOCAP
corpus_size=default    # mini-IEMOCAP size: tiny | default | full
corpus_seed=0
validation="Ses05F Ses05M"   # the 2 validation speakers (early stopping); the other 8 give the LOSO folds
fold_by=speaker        # speaker | session (leave one session out: e.g. --fold-by session --validation Ses05)
class_map=conf/iemocap_emotions.map   # IEMOCAP's codes -> the 4 classes (exc merged into hap, the rest dropped)
nnet_config=conf/convnet_ser.yaml
fbank_config=conf/fbank.conf   # the features, and the frames the targets are labelled on
vad_config=conf/vad.yaml   # voice-activity thresholds of the frame targets
device=auto            # auto (CUDA when present) | cpu | cuda
stages_continue_in=$ASRSER_ROOT/egs/ser_template/s5/run.sh   # stages 2-20: the generic SER recipe on data/iemocap
help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj N] [--iemocap DIR] [--corpus-size tiny|default|full] [--validation \"SPK1 SPK2\"] [--fold-by speaker|session] [--class-map MAP]"
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

(( stop_stage < 2 )) || "$stages_continue_in" --stage $(( stage > 2 ? stage : 2 )) --stop-stage "$stop_stage" \
  --nj "$nj" --data data/iemocap --fold-by "$fold_by" --validation "$validation" --class-map "$class_map" \
  --nnet-config "$nnet_config" --fbank-config "$fbank_config" --vad-config "$vad_config" --device "$device" \
  --title "IEMOCAP ($iemocap)"
