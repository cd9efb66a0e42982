#!/usr/bin/env bash
# TIMIT phone recognition as in Fayek, Lech & Cavedon (2016): GMM-HMM alignments (mono -> tri1 -> tri2 ->
# tri3, SAT), a phone bigram HCLG, and the hybrid ConvNet-HMM on the best GMM's (tri3's) alignments; 48 phones
# for training, 39 for scoring with sclite.
# Without --timit it runs on the embedded mini-TIMIT, generated in stage 0.
# --sample-rate 8000 trains narrowband models (telephone band); --real-test asterisk then also decodes real read
# English, the Asterisk prompts at 8 kHz (stage 23), beside the PER of silence alone and the fbank's distance from
# the training set's.
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=100
nj=2
timit=                 # the LDC TIMIT directory (with TRAIN/ and TEST/); empty: the embedded mini-TIMIT
corpus_size=default    # mini-TIMIT size: tiny | default | full
corpus_seed=0
corpus_condition=read  # mini-TIMIT: read (voices, connected speech, recording varied) | clean (the first corpus)
sample_rate=16000      # 16000 | 8000: narrowband models (wav.scp resamples through sox; conf/{mfcc,fbank}_8k.conf)
real_test=             # empty | asterisk: also decode real read English (stage 23; 8 kHz: use --sample-rate 8000)
real_test_prompts=     # with --real-test: only this many of its prompts, evenly spaced (empty: all; a quick check)
gmm_config=            # GMM sizes; empty: conf/gmm.yaml (scaled to the mini-TIMIT) or, with --timit or
                       # --corpus-size full (TIMIT's size), conf/gmm_full.yaml
nnet_config=conf/convnet.yaml
nnet_cmvn_opts=        # empty: the ConvNet's fbank normalised by the training set's mean/variance alone; e.g.
                       # "--norm-means=true": each speaker's mean removed first (apply-cmvn's options)
ctc_config=conf/ctc.yaml   # the end-to-end CTC phone recogniser (./run.sh passes conf/fast/ctc.yaml)
device=auto            # auto (CUDA when present) | cpu | cuda
phone_map=conf/timit/phones.60-48-39.map   # 61 labels -> 48 (column 2: the lang's phones) -> 39 (column 3: scoring)
ngpu=0                 # ConvNet training data-parallel on this many GPUs (one process each, NCCL)
nproc=1                # ... or in this many processes on the CPUs (gloo)
nnodes=1               # ... on this many machines (Slurm backend: srun starts the processes on each)
# A Kaldi experiment (Kaldi's own egs/timit/s5, finished) for stages 17-20: the ConvNet on its alignments,
# decoded with its graph. All three, or none (then stages 17-20 are skipped).
kaldi_lang=            # Kaldi's lang dir (e.g. <kaldi>/egs/timit/s5/data/lang)
kaldi_ali=             # Kaldi's alignment dirs of one model, quoted: the training set's (and the dev set's for
                       # validation), e.g. "<kaldi>/exp/tri3_ali <kaldi>/exp/tri3_ali_dev"
kaldi_graph=           # the graph dir of that model (e.g. <kaldi>/egs/timit/s5/exp/tri3/graph)
kaldi_targets=mono-state   # what the net predicts: mono-state (48 phones x 3 states) | pdf (the tree's leaves)
help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj N] [--timit DIR] [--corpus-size tiny|default|full] [--corpus-condition read|clean] [--sample-rate 16000|8000] [--real-test asterisk] [--ngpu G | --nproc N] [--nnodes M] [--nnet-config F] [--nnet-cmvn-opts OPTS] [--ctc-config F]
       [--kaldi-lang DIR --kaldi-ali \"DIR...\" --kaldi-graph DIR [--kaldi-targets mono-state|pdf]]"
. recipe.sh

[ -z "$timit" ] || [ -d "$timit" ] || die "--timit $timit: no such directory"
if [ -z "$gmm_config" ]; then   # Kaldi's sizes for TIMIT's amount of data, real or embedded
  if [ -n "$timit" ] || [ "$corpus_size" = full ]; then gmm_config=conf/gmm_full.yaml; else gmm_config=conf/gmm.yaml; fi
fi
[ -n "$timit" ] || timit=corpora/mini_timit/TIMIT
log "GMM sizes: $gmm_config"
case $sample_rate in
  16000) mfcc_config=conf/mfcc.conf; fbank_config=conf/fbank.conf ;;
  8000) mfcc_config=conf/mfcc_8k.conf; fbank_config=conf/fbank_8k.conf ;;
  *) die "--sample-rate $sample_rate: expected 16000 or 8000 (the feature configs there are)" ;;
esac
case $real_test in
  ""|asterisk) ;;
  *) die "--real-test $real_test: expected asterisk (or nothing)" ;;
esac
score_opts=(--phone-map "$phone_map" --phone-map-columns 2,3)   # PER on 39 phones
kaldi_import() { [ -n "$kaldi_ali" ]; }     # stages 17-20 run on an imported Kaldi experiment
real_test_asked() { [ -n "$real_test" ]; }  # stage 23 runs with --real-test
if [ -n "$kaldi_lang$kaldi_ali$kaldi_graph" ]; then
  [ -n "$kaldi_lang" ] && [ -n "$kaldi_ali" ] && [ -n "$kaldi_graph" ] || \
    die "--kaldi-lang, --kaldi-ali and --kaldi-graph go together (a Kaldi experiment's lang, alignments and graph)"
  for d in $kaldi_lang $kaldi_ali $kaldi_graph; do [ -d "$d" ] || die "$d: no such directory"; done
fi

# Boundary accuracy of <system>'s alignments of <set>..., as aligned and after the boundary-specific correction
# fitted on the system's alignments of the training set (<train-ali-dir>), so the corrected figures are held out.
boundary_accuracy() {  # <train-ali-dir> <system> <set>...
  local train_ali=$1 system=$2 x; shift 2
  fit_boundary_correction.py $train_ali data/lang data/train/ref_phones.ctm
  for x in "$@"; do
    alignment_accuracy.py --correction $train_ali/boundary_correction.json \
      exp/${system}_ali_$x data/lang data/$x/ref_phones.ctm
  done
}

if stage 0 "embedded mini-TIMIT (skipped with --timit)"; then
  [ "$timit" != corpora/mini_timit/TIMIT ] || \
    make_mini_timit.py --size "$corpus_size" --condition "$corpus_condition" --seed "$corpus_seed" --nj "$nj" \
      corpora/mini_timit
fi

if stage 1 "data dirs train/dev/test (SA excluded, 48-phone text, reference segmentation)" needs 0:"$timit"; then
  timit_data_prep.py --sample-rate "$sample_rate" "$timit" data
fi

if stage 2 "lang (48 phones, Kaldi topology) and Witten-Bell phone bigram G.fst" needs 1:data/train/text; then
  prepare_lang.py --phone-set "$phone_map" --phone-set-column 2 data/lang
  train_phone_lm.py data/train/text data/lang data/lang_test_bg
fi

if stage 3 "features: MFCC + CMVN for GMMs (data/), 40 log-mel fbank for the ConvNet (data-fbank/)" \
    needs 1:data/{train,dev,test}/wav.scp; then
  for x in train dev test; do
    make_feats.py --feat-type mfcc --config "$mfcc_config" --nj "$nj" --cmd "$train_cmd" data/$x exp/make_mfcc/$x mfcc
    compute_cmvn_stats.py data/$x mfcc
    copy_data_dir.py data/$x data-fbank/$x
    make_feats.py --feat-type fbank --config "$fbank_config" --nj "$nj" --cmd "$train_cmd" data-fbank/$x exp/make_fbank/$x fbank
  done
fi

if stage 4 "monophone GMM-HMM" needs 2:data/lang/phones.txt 3:data/train/cmvn.scp; then
  train_mono.py --nj "$nj" --cmd "$train_cmd" --config "$gmm_config" data/train data/lang exp/mono
fi

if stage 5 "monophone graph and decoding of dev and test" \
    needs 2:data/lang_test_bg/G.fst 3:data/{dev,test}/cmvn.scp 4:exp/mono/final.mdl; then
  mkgraph.py data/lang_test_bg exp/mono exp/mono/graph
  for x in dev test; do
    decode.py --nj "$nj" --cmd "$decode_cmd" "${score_opts[@]}" exp/mono/graph data/$x exp/mono exp/mono/decode_$x
  done
fi

if stage 6 "tri1: triphones on deltas (tree from the monophone alignments)" needs 4:exp/mono/final.mdl; then
  align_si.py --nj "$nj" --cmd "$train_cmd" data/train data/lang exp/mono exp/mono_ali
  train_deltas.py --nj "$nj" --cmd "$train_cmd" --config "$gmm_config" data/train data/lang exp/mono_ali exp/tri1
fi

if stage 7 "tri1 graph and decoding" needs 2:data/lang_test_bg/G.fst 3:data/{dev,test}/cmvn.scp 6:exp/tri1/final.mdl; then
  mkgraph.py data/lang_test_bg exp/tri1 exp/tri1/graph
  for x in dev test; do
    decode.py --nj "$nj" --cmd "$decode_cmd" "${score_opts[@]}" exp/tri1/graph data/$x exp/tri1 exp/tri1/decode_$x
  done
fi

if stage 8 "tri2: LDA+MLLT triphones (from the tri1 alignments)" needs 6:exp/tri1/final.mdl; then
  align_si.py --nj "$nj" --cmd "$train_cmd" data/train data/lang exp/tri1 exp/tri1_ali
  train_lda_mllt.py --nj "$nj" --cmd "$train_cmd" --config "$gmm_config" data/train data/lang exp/tri1_ali exp/tri2
fi

if stage 9 "tri2 graph and decoding" needs 2:data/lang_test_bg/G.fst 3:data/{dev,test}/cmvn.scp 8:exp/tri2/final.mdl; then
  mkgraph.py data/lang_test_bg exp/tri2 exp/tri2/graph
  for x in dev test; do
    decode.py --nj "$nj" --cmd "$decode_cmd" "${score_opts[@]}" exp/tri2/graph data/$x exp/tri2 exp/tri2/decode_$x
  done
fi

if stage 10 "tri3: speaker-adapted training (fMLLR) from the tri2 alignments" needs 8:exp/tri2/final.mdl; then
  align_si.py --nj "$nj" --cmd "$train_cmd" data/train data/lang exp/tri2 exp/tri2_ali_train
  train_sat.py --nj "$nj" --cmd "$train_cmd" --config "$gmm_config" data/train data/lang exp/tri2_ali_train exp/tri3
fi

if stage 11 "tri3 graph and two-pass fMLLR decoding (speaker-independent pass in decode_<set>.si)" \
    needs 2:data/lang_test_bg/G.fst 3:data/{dev,test}/cmvn.scp 10:exp/tri3/final.alimdl; then
  mkgraph.py data/lang_test_bg exp/tri3 exp/tri3/graph
  for x in dev test; do
    decode_fmllr.py --nj "$nj" --cmd "$decode_cmd" "${score_opts[@]}" exp/tri3/graph data/$x exp/tri3 exp/tri3/decode_$x
  done
fi

if stage 12 "tri3 alignments of train/dev/test, 144-class frame targets for the nets; boundary accuracy of mono, tri1, tri2, tri3" \
    needs 1:data/{train,dev,test}/ref_phones.ctm 3:data/{dev,test}/cmvn.scp 4:exp/mono/final.mdl 6:exp/mono_ali/ali.done \
          8:exp/tri1_ali/ali.done 10:exp/tri2_ali_train/ali.done 10:exp/tri3/final.alimdl; then
  for x in train dev test; do
    align_fmllr.py --nj "$nj" --cmd "$train_cmd" --config "$gmm_config" data/$x data/lang exp/tri3 exp/tri3_ali_$x
    ali_to_targets.py exp/tri3_ali_$x exp/tri3_ali_$x/targets
  done
  boundary_accuracy exp/tri3_ali_train tri3 dev test
  for x in dev test; do
    align_si.py --nj "$nj" --cmd "$train_cmd" data/$x data/lang exp/tri2 exp/tri2_ali_$x
  done
  boundary_accuracy exp/tri2_ali_train tri2 dev test
  for sys in mono tri1; do
    align_si.py --nj "$nj" --cmd "$train_cmd" data/test data/lang exp/$sys exp/${sys}_ali_test
    boundary_accuracy exp/${sys}_ali $sys test
  done
fi

if stage 13 "ConvNet frames: fbank normalised by the training set's mean/variance (per speaker first with --nnet-cmvn-opts), 144-class tri3 targets" \
    needs 3:data-fbank/{train,dev,test}/feats.scp 12:exp/tri3_ali_{train,dev,test}/targets/targets.scp; then
  compute_global_cmvn.py ${nnet_cmvn_opts:+--cmvn-opts "$nnet_cmvn_opts"} data-fbank/train exp/convnet/global_cmvn.stats
  for x in train dev test; do
    nnet_prepare_frames.py --targets exp/tri3_ali_$x/targets/targets.scp data-fbank/$x \
      exp/convnet/global_cmvn.stats exp/convnet/frames_$x
  done
fi

if stage 14 "ConvNet acoustic model ($nnet_config), validated on dev" \
    needs 12:exp/tri3_ali_train/targets/num_classes 13:exp/convnet/frames_{train,dev}/frames.done; then
  $cuda_cmd $(training_resources "$ngpu" "$nproc" "$nnodes") exp/convnet/log/train.log \
    nnet_train.py --config "$nnet_config" --device "$device" --ngpu "$ngpu" --nproc "$nproc" \
      exp/convnet/frames_train exp/convnet/frames_dev exp/tri3_ali_train/targets/num_classes exp/convnet
fi

if stage 15 "hybrid ConvNet-HMM decoding of dev and test with the monophone HCLG; FER and PER" \
    needs 5:exp/mono/graph/HCLG.fst 13:exp/convnet/frames_{dev,test}/frames.done 14:exp/convnet/final.pt; then
  for x in dev test; do
    nnet_decode.py "${score_opts[@]}" --device "$device" exp/mono/graph exp/mono/final.mdl exp/convnet/final.pt \
      exp/convnet/frames_$x data/$x/text exp/convnet/decode_$x
  done
fi

if stage 16 "hybrid ConvNet-HMM forced alignment (Kaldi's nnet align) of train/dev/test, boundary accuracy" \
    needs 4:exp/mono/final.mdl 13:exp/convnet/frames_{train,dev,test}/frames.done 14:exp/convnet/final.pt; then
  for x in train dev test; do
    nnet_align.py --device "$device" exp/mono/final.mdl data/lang data/$x exp/convnet/final.pt \
      exp/convnet/frames_$x exp/convnet_ali_$x
  done
  boundary_accuracy exp/convnet_ali_train convnet dev test
fi

if kaldi_import && stage 17 "Kaldi experiment (--kaldi-lang, --kaldi-ali): alignments checked against its model and lang, frame targets" \
    needs 1:data/train/text; then
  import_kaldi_ali.py --targets "$kaldi_targets" "$kaldi_lang" $kaldi_ali exp/kaldi_ali
fi

if kaldi_import && stage 18 "ConvNet frames with the Kaldi experiment's targets" \
    needs 3:data-fbank/{train,dev,test}/feats.scp 17:exp/kaldi_ali/targets/targets.scp; then
  compute_global_cmvn.py data-fbank/train exp/convnet_kaldi/global_cmvn.stats
  for x in train dev test; do
    nnet_prepare_frames.py --targets exp/kaldi_ali/targets/targets.scp data-fbank/$x \
      exp/convnet_kaldi/global_cmvn.stats exp/convnet_kaldi/frames_$x
  done
fi

if kaldi_import && stage 19 "ConvNet on the Kaldi experiment's alignments ($nnet_config), validated on dev" \
    needs 17:exp/kaldi_ali/targets/num_classes 18:exp/convnet_kaldi/frames_{train,dev}/frames.done; then
  $cuda_cmd $(training_resources "$ngpu" "$nproc" "$nnodes") exp/convnet_kaldi/log/train.log \
    nnet_train.py --config "$nnet_config" --device "$device" --ngpu "$ngpu" --nproc "$nproc" \
      exp/convnet_kaldi/frames_train exp/convnet_kaldi/frames_dev exp/kaldi_ali/targets/num_classes exp/convnet_kaldi
fi

if kaldi_import && stage 20 "hybrid decoding of dev and test with the Kaldi experiment's graph (--kaldi-graph); FER and PER" \
    needs 17:exp/kaldi_ali/final.mdl 18:exp/convnet_kaldi/frames_{dev,test}/frames.done 19:exp/convnet_kaldi/final.pt; then
  for x in dev test; do
    nnet_decode.py "${score_opts[@]}" --targets "$kaldi_targets" --device "$device" "$kaldi_graph" \
      exp/kaldi_ali/final.mdl exp/convnet_kaldi/final.pt exp/convnet_kaldi/frames_$x data/$x/text exp/convnet_kaldi/decode_$x
  done
fi

if stage 21 "end-to-end CTC phone recogniser ($ctc_config) on the fbank, validated on dev" \
    needs 2:data/lang/words.txt 3:data-fbank/{train,dev}/feats.scp; then
  # One thread: this small model's operations are too small for two (measured: an epoch 18 s at one thread,
  # 69 s at two, on 2 shared cores).
  $cuda_cmd --num-threads 1 exp/ctc/log/train.log \
    ctc_train.py --config "$ctc_config" --fbank-config "$fbank_config" --device "$device" \
    data-fbank/train data-fbank/dev data/lang exp/ctc
fi

if stage 22 "CTC decoding of dev and test: greedy (exp/ctc_greedy) and with the phone bigram (exp/ctc); PER" \
    needs 2:data/lang_test_bg/G.fst 3:data-fbank/{dev,test}/feats.scp 21:exp/ctc/final.pt; then
  for x in dev test; do
    ctc_decode.py "${score_opts[@]}" --device "$device" exp/ctc/final.pt data-fbank/$x data/$x/text exp/ctc_greedy/decode_$x
    ctc_decode.py "${score_opts[@]}" --device "$device" --lang-test data/lang_test_bg \
      exp/ctc/final.pt data-fbank/$x data/$x/text exp/ctc/decode_$x
  done
fi

# Real speech: the Asterisk prompts (one female speaker reading, 8 kHz; Debian packages, CC-BY-SA) with phone
# references from the dictionary (CMUdict, espeak-ng G2P for the rest) in TIMIT's 39 scoring phones, decoded by
# every system as dev and test are (one speaker: one job) and scored at each system's dev-chosen LM weight.
if real_test_asked && stage 23 "real read English ($real_test prompts): mono, tri1, tri2, tri3 and the hybrid; PER of silence alone; fbank distance from training" \
    needs 3:data-fbank/train/feats.scp 5:exp/mono/graph/HCLG.fst 7:exp/tri1/graph/HCLG.fst 9:exp/tri2/graph/HCLG.fst \
          11:exp/tri3/graph/HCLG.fst 13:exp/convnet/global_cmvn.stats 14:exp/convnet/final.pt; then
  "$ASRSER_ROOT/tools/install_debian.sh" asterisk-core-sounds-en-wav asterisk-core-sounds-en
  x=$real_test
  asterisk_data_prep.py --phone-test --sample-rate "$sample_rate" ${real_test_prompts:+--max-prompts "$real_test_prompts"} data/$x
  make_feats.py --feat-type mfcc --config "$mfcc_config" --nj 1 --cmd "$train_cmd" data/$x exp/make_mfcc/$x mfcc
  compute_cmvn_stats.py data/$x mfcc
  copy_data_dir.py data/$x data-fbank/$x
  make_feats.py --feat-type fbank --config "$fbank_config" --nj 1 --cmd "$train_cmd" data-fbank/$x exp/make_fbank/$x fbank
  for sys in mono tri1 tri2; do
    decode.py --nj 1 --cmd "$decode_cmd" "${score_opts[@]}" exp/$sys/graph data/$x exp/$sys exp/$sys/decode_$x
  done
  decode_fmllr.py --nj 1 --cmd "$decode_cmd" "${score_opts[@]}" exp/tri3/graph data/$x exp/tri3 exp/tri3/decode_$x
  nnet_prepare_frames.py data-fbank/$x exp/convnet/global_cmvn.stats exp/convnet/frames_$x
  nnet_decode.py "${score_opts[@]}" --device "$device" exp/mono/graph exp/mono/final.mdl exp/convnet/final.pt \
    exp/convnet/frames_$x data/$x/text exp/convnet/decode_$x
  score_silence_only.py "${score_opts[@]}" data/$x exp/real_test/$x/silence_only
  feature_distance.py data-fbank/train data-fbank/$x exp/real_test/$x/fbank_distance.json
fi

if stage 24 "RESULTS.md" needs 5:exp/mono/decode_test/decode.done; then
  timit_results.py --title "TIMIT ($timit)" exp RESULTS.md
fi
