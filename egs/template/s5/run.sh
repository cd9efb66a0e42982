#!/usr/bin/env bash
# ASR on your own corpus, as Kaldi's standard recipe: a word lexicon and n-gram LM, GMM-HMM mono -> tri1 (deltas)
# -> tri2 (LDA+MLLT) -> tri3 (SAT, fMLLR), the ConvNet-HMM hybrid on the best GMM's alignments, word decoding,
# WER by sclite, CTMs of the training alignments. Input: Kaldi data dirs (wav.scp, text, utt2spk; segments
# optional) and a lexicon (a Kaldi dict dir, or nothing: CMUdict with G2P for English).
#
# Run it from the directory that should hold data/, exp/ and RESULTS.md, e.g. a copy of this one:
#   cp -r egs/template/s5 egs/mycorpus/s5 && cd egs/mycorpus/s5 && ./run.sh --train /corpus/data/train --test /corpus/data/test
# (a corpus recipe runs its own data preparation first and then this script; see egs/asterisk/s5).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/path.sh"
. "$here/cmd.sh"

stage=1
stop_stage=100
nj=2
train=                 # the training data dir (wav.scp, text, utt2spk)
dev=                   # the dev data dir (LM weights, net validation); empty: held out from --train
dev_fraction=0.1       # ... that fraction of the training speakers (of the utterances when there is one speaker)
test=                  # the test data dirs, quoted when several
dict=                  # a Kaldi dict dir (lexicon.txt or lexiconp.txt, silence_phones.txt, nonsilence_phones.txt,
                       # optional_silence.txt); empty: CMUdict (English) with espeak-ng G2P for the words it lacks
oov_word="<UNK>"       # the word unknown words map to (pronounced SPN)
sil_prob=0.5
lm_order=3             # word n-gram order of the modified Kneser-Ney LM from the training text
lm_prune=0             # relative-entropy pruning threshold (0: none)
mfcc_config=conf/mfcc.conf
fbank_config=conf/fbank.conf
gmm_config=conf/gmm_words.yaml
nnet_config=conf/fast/convnet.yaml
ctc_config=conf/fast/ctc.yaml   # the end-to-end CTC recogniser over the lang's words (stage 16)
device=auto            # auto (CUDA when present) | cpu | cuda
seed=0
help_message="Usage: $0 --train DIR --test \"DIR...\" [--dev DIR] [--dict DIR] [--lm-order N]
       [--stage N] [--stop-stage M] [--nj N] [--gmm-config F] [--nnet-config F] [--ctc-config F] [--mfcc-config F] [--fbank-config F]"
. recipe.sh

for opt in train test; do [ -n "${!opt}" ] || die "--$opt is required (a Kaldi data dir)"; done
resolve() { case $1 in /*|"") echo "$1" ;; *) [ -e "$1" ] && echo "$1" || echo "$here/$1" ;; esac; }
mfcc_config=$(resolve "$mfcc_config"); fbank_config=$(resolve "$fbank_config")
gmm_config=$(resolve "$gmm_config"); nnet_config=$(resolve "$nnet_config"); ctc_config=$(resolve "$ctc_config")
name() { basename "$1"; }
test_sets=$(for d in $test; do name "$d"; done | xargs)
eval_sets="dev $test_sets"

if stage 1 "data dirs: data/train, data/dev, data/<test> (checked, sorted)"; then
  import_data_dirs.py --dev-fraction "$dev_fraction" --seed "$seed" ${dev:+--dev "$dev"} "$train" "$test" data
fi

if stage 2 "dict dir, lang (word-position-dependent phones, optional silence) and the $lm_order-gram LM" \
    needs 1:data/train/text; then
  if [ -z "$dict" ]; then
    dict=data/local/dict
    prepare_dict.py data/{train,dev}/text $(printf 'data/%s/text ' $test_sets) $dict
  fi
  prepare_lang.py --sil-prob "$sil_prob" "$dict" "$oov_word" data/local/lang_tmp data/lang
  train_lm.py --order "$lm_order" --prune "$lm_prune" --dev-text data/dev/text data/train/text data/lang data/lang_test
fi

if stage 3 "features: MFCC + CMVN for the GMMs (data/), log-mel fbank for the ConvNet (data-fbank/)" \
    needs 1:data/train/wav.scp; then
  for x in train $eval_sets; do
    make_feats.py --feat-type mfcc --config "$mfcc_config" --nj "$nj" --cmd "$train_cmd" data/$x exp/make_mfcc/$x mfcc
    compute_cmvn_stats.py data/$x mfcc
    copy_data_dir.py data/$x data-fbank/$x
    make_feats.py --feat-type fbank --config "$fbank_config" --nj "$nj" --cmd "$train_cmd" data-fbank/$x \
      exp/make_fbank/$x fbank
  done
fi

# graph_and_decode <system> [decode program]: HCLG with the word LM, every eval set decoded and scored (WER)
graph_and_decode() {
  local sys=$1 decode=${2:-decode.py} x   # LM weights 7-17, as Kaldi's steps/score_kaldi.sh
  mkgraph.py data/lang_test exp/$sys exp/$sys/graph
  for x in $eval_sets; do
    $decode --nj "$nj" --cmd "$decode_cmd" --min-lmwt 7 --max-lmwt 17 exp/$sys/graph data/$x exp/$sys exp/$sys/decode_$x
  done
}

if stage 4 "monophone GMM-HMM" needs 2:data/lang/phones.txt 3:data/train/cmvn.scp; then
  train_mono.py --nj "$nj" --cmd "$train_cmd" --config "$gmm_config" data/train data/lang exp/mono
fi

if stage 5 "monophone graph, decoding" needs 2:data/lang_test/G.fst 4:exp/mono/final.mdl; then
  graph_and_decode mono
fi

if stage 6 "tri1: triphones on deltas" needs 4:exp/mono/final.mdl; then
  align_si.py --nj "$nj" --cmd "$train_cmd" data/train data/lang exp/mono exp/mono_ali
  train_deltas.py --nj "$nj" --cmd "$train_cmd" --config "$gmm_config" data/train data/lang exp/mono_ali exp/tri1
fi

if stage 7 "tri1 graph, decoding" needs 2:data/lang_test/G.fst 6:exp/tri1/final.mdl; then
  graph_and_decode tri1
fi

if stage 8 "tri2: LDA+MLLT triphones" needs 6:exp/tri1/final.mdl; then
  align_si.py --nj "$nj" --cmd "$train_cmd" data/train data/lang exp/tri1 exp/tri1_ali
  train_lda_mllt.py --nj "$nj" --cmd "$train_cmd" --config "$gmm_config" data/train data/lang exp/tri1_ali exp/tri2
fi

if stage 9 "tri2 graph, decoding" needs 2:data/lang_test/G.fst 8:exp/tri2/final.mdl; then
  graph_and_decode tri2
fi

if stage 10 "tri3: speaker-adaptive training (fMLLR) on LDA+MLLT" needs 8:exp/tri2/final.mdl; then
  align_si.py --nj "$nj" --cmd "$train_cmd" data/train data/lang exp/tri2 exp/tri2_ali
  train_sat.py --nj "$nj" --cmd "$train_cmd" --config "$gmm_config" data/train data/lang exp/tri2_ali exp/tri3
fi

if stage 11 "tri3 graph, two-pass fMLLR decoding" needs 2:data/lang_test/G.fst 10:exp/tri3/final.mdl; then
  graph_and_decode tri3 decode_fmllr.py
fi

if stage 12 "tri3 (fMLLR) alignments of train and dev, frame targets for the net, word and phone CTMs" \
    needs 10:exp/tri3/final.mdl; then
  for x in train dev; do
    align_fmllr.py --nj "$nj" --cmd "$train_cmd" --config "$gmm_config" data/$x data/lang exp/tri3 exp/tri3_ali_$x
    ali_to_targets.py exp/tri3_ali_$x exp/tri3_ali_$x/targets
  done
  get_ctm.py data/train data/lang exp/tri3_ali_train exp/tri3_ali_train/ctm
  get_ctm.py --phone-level data/train data/lang exp/tri3_ali_train exp/tri3_ali_train/phones.ctm
fi

if stage 13 "ConvNet frames: fbank normalised by the training set's mean/variance, tri3 targets" \
    needs 3:data-fbank/train/feats.scp 12:exp/tri3_ali_{train,dev}/targets/targets.scp; then
  compute_global_cmvn.py data-fbank/train exp/convnet/global_cmvn.stats
  for x in train $eval_sets; do
    targets=exp/tri3_ali_$x/targets/targets.scp
    nnet_prepare_frames.py $([ -f $targets ] && echo "--targets $targets") data-fbank/$x \
      exp/convnet/global_cmvn.stats exp/convnet/frames_$x
  done
fi

if stage 14 "ConvNet acoustic model ($nnet_config), validated on dev" \
    needs 12:exp/tri3_ali_train/targets/num_classes 13:exp/convnet/frames_{train,dev}/frames.done; then
  $cuda_cmd exp/convnet/log/train.log \
    nnet_train.py --config "$nnet_config" --device "$device" \
      exp/convnet/frames_train exp/convnet/frames_dev exp/tri3_ali_train/targets/num_classes exp/convnet
fi

if stage 15 "hybrid ConvNet-HMM decoding with the monophone HCLG; WER" \
    needs 5:exp/mono/graph/HCLG.fst 14:exp/convnet/final.pt; then
  for x in $eval_sets; do
    nnet_decode.py --device "$device" exp/mono/graph exp/mono/final.mdl exp/convnet/final.pt \
      exp/convnet/frames_$x data/$x/text exp/convnet/decode_$x
  done
fi

if stage 16 "end-to-end CTC recogniser ($ctc_config) over the lang's words on the fbank, validated on dev; greedy decoding, WER" \
    needs 2:data/lang/words.txt 3:data-fbank/train/feats.scp; then
  # The bigram decode of the TIMIT recipe builds the CTC topology with one arc per pair of tokens: over a word
  # vocabulary that graph grows with its square, so the word task is decoded greedily.
  $cuda_cmd --num-threads 1 exp/ctc/log/train.log \
    ctc_train.py --config "$ctc_config" --fbank-config "$fbank_config" --device "$device" \
    data-fbank/train data-fbank/dev data/lang exp/ctc   # one thread: as the TIMIT recipe (measured faster)
  for x in $eval_sets; do
    ctc_decode.py --scoring-unit word --device "$device" exp/ctc/final.pt data-fbank/$x data/$x/text exp/ctc/decode_$x
  done
fi

if stage 20 "RESULTS.md: WER of every system" needs 5:exp/mono/decode_dev; then
  collect_results.py --title "$(basename "$(dirname "$PWD")") (train: $train)" exp RESULTS.md
fi
