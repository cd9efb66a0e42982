#!/usr/bin/env bash
# Speech emotion recognition on any labelled corpus: a Kaldi data dir (wav.scp, utt2spk, spk2utt) with utt2emo
# (an emotion code per utterance) and, for session folds, utt2sess. The classes are the codes of utt2emo,
# through --class-map when given (CODE CLASS lines; CLASS - drops the code); the folds leave one speaker or one
# session out (--fold-by), validating on fixed groups (--validation) or, without them, on the next group of
# each fold (rotation: every group is tested once). The same stages as egs/iemocap/s5: the frame-level ConvNet
# with a silence class on each fold, the eGeMAPS + SVM baseline on the same folds, a WA/UA table.
# Run it from the directory that should hold data-fbank/, exp/ and RESULTS.md (e.g. a copy of this one);
# a corpus recipe prepares its data dir in stages 0-1 and hands stages 2-20 to this script (egs/iemocap/s5).
# A recipe with several protocols on the same data gives each its own --exp (and --folds) dir (egs/cta_rnn/s5).
#   e.g. ./run.sh --data /corpora/mine/data/all --class-map conf/my_emotions.map --fold-by session
here=$(cd "$(dirname "$0")" && pwd)
. "$here/path.sh"
. "$here/cmd.sh"

stage=2
stop_stage=100
nj=2
data=                  # the labelled data dir (required)
fold_by=speaker        # speaker (utt2spk) | session (utt2sess) | corpus (utt2corpus: train on one, test the other)
validation=            # fixed validation speakers/sessions, space-separated; empty: rotate with the test group
class_map=             # CODE CLASS lines (CLASS - drops the code); empty: every code of utt2emo is a class
nnet_config=conf/convnet_ser.yaml
fbank_config=conf/fbank.conf   # the features, and the frames the targets are labelled on
vad_config=conf/vad.yaml   # voice-activity thresholds of the frame targets
device=auto            # auto (CUDA when present) | cpu | cuda
title=                 # RESULTS.md's title; default: the data dir
exp=exp                # the folds, frame targets, systems (egemaps_svm, convnet) and their results go here
folds=                 # the folds dir; default: $exp/ser_folds
results=RESULTS.md     # the WA/UA table (stage 20)
help_message="Usage: $0 --data DIR [--stage N] [--stop-stage M] [--nj N] [--fold-by speaker|session|corpus] [--validation \"G1 G2\"] [--class-map MAP] [--nnet-config YAML] [--exp DIR] [--folds DIR] [--results FILE]"
. recipe.sh

resolve() { case $1 in /*|"") echo "$1" ;; *) [ -e "$1" ] && echo "$1" || echo "$here/$1" ;; esac; }
nnet_config=$(resolve "$nnet_config"); fbank_config=$(resolve "$fbank_config"); vad_config=$(resolve "$vad_config")
[ -n "$data" ] || die "--data is required: a data dir with wav.scp, utt2spk, spk2utt and utt2emo (see --help)"
(( stage > 5 )) || for f in wav.scp utt2spk utt2emo; do [ -f "$data/$f" ] || die "--data $data: no $f"; done   # what stages 2-5 read
[ -z "$class_map" ] || [ -f "$class_map" ] || die "--class-map $class_map: no such file"
name=$(basename "$data")
folds=${folds:-$exp/ser_folds}

if stage 2 "40 log-mel fbank (data-fbank/$name)"; then
  copy_data_dir.py "$data" "data-fbank/$name"
  make_feats.py --feat-type fbank --config "$fbank_config" --nj "$nj" --cmd "$train_cmd" "data-fbank/$name" \
    "exp/make_fbank/$name" fbank
fi

if stage 3 "classes${class_map:+ ($class_map)} and folds: leave one $fold_by out, validation ${validation:-rotating}"; then
  ser_make_folds.py --fold-by "$fold_by" --validation "$validation" --class-map "$class_map" "$data" "$folds"
fi

if stage 4 "frame targets (the emotion on voiced frames, silence elsewhere) and each fold's normalised frames" \
    needs "2:data-fbank/$name/feats.scp" "3:$folds/folds.json"; then
  ser_frame_targets.py --config "$vad_config" --feature-config "$fbank_config" "$data" "$folds" "$exp/ser_targets"
  ser_prepare_folds.py "data-fbank/$name" "$exp/ser_targets" "$folds/folds.json" "$folds"
fi

if stage 5 "classic baseline on the same folds: openSMILE eGeMAPS functionals + linear SVM" \
    needs "3:$folds/folds.json"; then
  egemaps_svm_baseline.py --nj "$nj" "$data" "$folds/folds.json" "$exp/egemaps_svm"
fi

if stage 6 "frame-level ConvNet ($nnet_config, the classes and silence), one job per fold" \
    needs "4:$folds/num_folds"; then
  $cuda_cmd JOB=1:"$(cat "$folds/num_folds")" "$exp/convnet/log/fold.JOB.log" \
    ser_train_fold.py --config "$nnet_config" --device "$device" "$data" "$folds/foldJOB" "$exp/convnet/foldJOB"
  ser_score.py "$folds" "$exp/convnet"
fi

if stage 20 "$results: WA/UA per system and fold" needs "6:$exp/convnet/results.json"; then
  ser_results.py --title "${title:-SER on $data}" "$folds" "$exp" "$results"
fi
