#!/usr/bin/env bash
# FaceNet SER (Liu et al., JASA 149(2), 2021): utterances cut into segments at a fixed interval, each segment
# drawn as a waveform diagram or a spectrogram image (160x160), an Inception-ResNet-v1 (FaceNet's net) trained
# end to end on the images, segment posteriors averaged per utterance. Two corpora and two protocols:
#   casia            CASIA (Mandarin, 6 emotions), leave one speaker out (validation on the next speaker)
#   iemocap_session  IEMOCAP (4 classes), leave one session out: the CTA-RNN recipe's folds, so that its
#                    CTA-RNN, Fayek ConvNet and eGeMAPS + SVM rows compare directly
# Systems per protocol and image kind (exp/<protocol>/<kind>_<init>): from scratch (scratch), pre-trained on all
# of the other corpus and fine-tuned on each fold (from_casia, from_iemocap), and from local FaceNet face weights
# when given (from_face). Without --casia the embedded mini-CASIA is generated (stage 0); IEMOCAP's data dir
# comes from the IEMOCAP recipe (--iemocap-data) or is prepared here from --iemocap.
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=100
nj=2
casia=                 # CASIA (the dir holding the speakers, or the full release's subset folders); empty: mini-CASIA
iemocap_data=../../iemocap/s5/data/iemocap   # IEMOCAP's data dir as egs/iemocap/s5 prepares it (stage 1)
iemocap=               # IEMOCAP_full_release: prepare IEMOCAP's data dir here instead
corpus_size=default    # mini-CASIA size: tiny | default | full
corpus_seed=0
kinds="waveform spectrogram"   # the image kinds
facenet_config=conf/facenet.yaml       # images, net and training (conf/fast/facenet.yaml: the CPU preset)
face_weights=          # a local FaceNet checkpoint (VGGFace2 / CASIA-WebFace state dict): adds the from_face rows
baselines=../../cta_rnn/s5/exp   # the CTA-RNN recipe's exp dir: its rows on the same IEMOCAP folds
iemocap_class_map=conf/iemocap_emotions.map
casia_class_map=conf/casia_emotions.map
device=auto            # auto (CUDA when present) | cpu | cuda
help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj N] [--casia DIR] [--iemocap-data DIR | --iemocap DIR]
       [--kinds \"waveform spectrogram\"] [--facenet-config YAML] [--face-weights PT] [--baselines DIR]
       [--corpus-size tiny|default|full] [--device D]"
. recipe.sh

[ -z "$casia" ] || [ -d "$casia" ] || die "--casia $casia: no such directory"
[ -z "$iemocap" ] || [ -d "$iemocap" ] || die "--iemocap $iemocap: no such directory"
[ -z "$face_weights" ] || [ -f "$face_weights" ] || die "--face-weights $face_weights: no such file"
[ -f "$facenet_config" ] || die "--facenet-config $facenet_config: no such file"
for k in $kinds; do
  case $k in waveform|spectrogram) ;; *) die "--kinds: unknown image kind '$k' (waveform spectrogram)" ;; esac
done
[ -n "$iemocap" ] || [ -f "$iemocap_data/utt2emo" ] || (( stop_stage < 1 || stage > 1 )) || \
  die "--iemocap-data $iemocap_data: no utt2emo (run egs/iemocap/s5/run.sh --stop-stage 1 first, or give --iemocap DIR)"
[ -n "$casia" ] || casia=corpora/mini_casia/CASIA

protocols="casia iemocap_session"
declare -A corpus_of source_of
corpus_of=([casia]=casia [iemocap_session]=iemocap)
source_of=([casia]=iemocap [iemocap_session]=casia)   # the other corpus: pre-trained on it, fine-tuned here

# Every fold of protocol P on image kind K, one job per fold, then the pooled scores: train P K OUT [--init X].
# One thread per job: the narrow nets of the fast preset train faster as two one-thread jobs than as one job
# on two threads (benchmarks/bench_facenet.py).
train() {
  local p=$1 kind=$2 out=$3; shift 3
  local n; n=$(num_folds "exp/folds/$p/folds.json")
  $cuda_cmd --num-threads 1 JOB=1:"$n" "$out/log/train.JOB.log" facenet_train_fold.py --config "$facenet_config" --device "$device" "$@" \
    "exp/images/${corpus_of[$p]}_$kind" "exp/folds/$p" JOB "$out/foldJOB"
  ser_score.py "exp/folds/$p" "$out"
}

if stage 0 "embedded mini-CASIA (skipped with --casia)"; then
  [ "$casia" != corpora/mini_casia/CASIA ] || \
    make_mini_casia.py --size "$corpus_size" --seed "$corpus_seed" --nj "$nj" corpora/mini_casia
fi

if stage 1 "data dirs: data/casia, data/iemocap"; then
  casia_data_prep.py "$casia" data
  if [ -n "$iemocap" ]; then
    iemocap_data_prep.py "$iemocap" data
  else
    copy_data_dir.py "$iemocap_data" data/iemocap
  fi
fi

if stage 2 "classes and folds: exp/folds/casia (leave one speaker out), exp/folds/iemocap_session (one session)"; then
  ser_make_folds.py --fold-by speaker --class-map "$casia_class_map" data/casia exp/folds/casia
  ser_make_folds.py --fold-by session --class-map "$iemocap_class_map" data/iemocap exp/folds/iemocap_session
fi

if stage 3 "segment images of every utterance ($kinds): exp/images/<corpus>_<kind>"; then
  for c in casia iemocap; do
    for k in $kinds; do make_images.py --config "$facenet_config" --kind "$k" --nj "$nj" "data/$c" "exp/images/${c}_$k"; done
  done
fi

if stage 4 "from scratch on every fold: exp/<protocol>/<kind>_scratch"; then
  for p in $protocols; do for k in $kinds; do train "$p" "$k" "exp/$p/${k}_scratch"; done; done
fi

if stage 5 "pre-training on the whole of each corpus (validation: its last speaker or session): exp/pretrain/<corpus>_<kind>"; then
  for k in $kinds; do
    pids=()
    for p in $protocols; do   # the two corpora side by side, a job each
      out=exp/pretrain/${corpus_of[$p]}_$k
      $cuda_cmd --num-threads 1 --max-jobs 1 "$out/log/train.log" facenet_train_fold.py --config "$facenet_config" --device "$device" \
        "exp/images/${corpus_of[$p]}_$k" "exp/folds/$p" all "$out" &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || die "pre-training failed: see exp/pretrain/*_$k/log/train.log"; done
  done
fi

if stage 6 "fine-tuning on every fold from the other corpus (and from face weights): exp/<protocol>/<kind>_from_<source>"; then
  for p in $protocols; do
    for k in $kinds; do
      pretrained=exp/pretrain/${source_of[$p]}_$k/final.pt
      [ -f "$pretrained" ] || die "stage 6 needs $pretrained, which stage 5 makes: run stage 5 first (--stage 5)"
      train "$p" "$k" "exp/$p/${k}_from_${source_of[$p]}" --init "$pretrained"
      [ -z "$face_weights" ] || train "$p" "$k" "exp/$p/${k}_from_face" --init "face:$face_weights"
    done
  done
fi

if stage 7 "RESULTS.md: the cross-training table beside the paper's figures and the other IEMOCAP systems"; then
  # The CTA-RNN recipe's CTA-RNN, ConvNet and eGeMAPS + SVM rows, when its folds are these folds.
  if same_folds "$baselines/folds/iemocap_session" exp/folds/iemocap_session; then
    for s in cta convnet egemaps_svm; do
      [ ! -f "$baselines/iemocap_session/$s/predictions.tsv" ] || take_ser_system "$baselines/iemocap_session/$s" "exp/iemocap_session/$s"
    done
  else
    log "$baselines/folds/iemocap_session: missing or not these folds: no CTA-RNN, ConvNet or eGeMAPS rows"
  fi
  ser_cross_table.py --layout facenet exp exp/facenet_table.md
  for p in $protocols; do   # example images per emotion
    for k in $kinds; do
      plot_images.py --utt2emo "exp/folds/$p/utt2emo" "exp/images/${corpus_of[$p]}_$k" "exp/images/${corpus_of[$p]}_$k.png"
    done
  done
  {
    echo "# FaceNet SER: segment images (waveform, spectrogram), Inception-ResNet-v1, cross-corpus pre-training"
    echo
    echo "Rows: image kind and pre-training; WA (the share of test utterances right) and UA (the mean per-class"
    echo "recall) in %, pooled over the folds (CASIA: leave one speaker out; IEMOCAP: leave one session out) and"
    echo "recomputed from each system's \`predictions.tsv\`. An utterance's decision is the mean of its segments'"
    echo "posteriors. A dash: not run (or the pre-training corpus is the test corpus)."
    echo
    cat exp/facenet_table.md
  } > RESULTS.md.tmp && mv RESULTS.md.tmp RESULTS.md
fi
