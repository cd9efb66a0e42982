#!/usr/bin/env bash
# The whole experiment of Fayek, Lech & Cavedon (2016), "On the Correlation and Transferability of Features
# between Automatic Speech Recognition and Speech Emotion Recognition", as numbered, resumable stages: the two
# corpus recipes under egs/ (each also runnable alone, with finer stages), the shared transfer stage both ways,
# and REPORT.md; then the CTA-RNN experiment (egs/cta_rnn/s5: SER on the layer embeddings of the TIMIT recipe's
# CTC encoder, IEMOCAP and MSP-IMPROV, within and across corpora) and the FaceNet SER experiment (egs/facenet/s5:
# waveform and spectrogram images of speech segments, Inception-ResNet-v1, CASIA <-> IEMOCAP pre-training).
# Without --timit / --iemocap / --msp-improv / --casia the embedded, license-free corpora are generated and used.
# Installs what it needs on the first run.
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

stage=1
stop_stage=100
nj=2
timit=        # LDC TIMIT directory (TRAIN/ and TEST/); empty: the embedded mini-TIMIT
iemocap=      # IEMOCAP_full_release directory; empty: the embedded mini-IEMOCAP
msp_improv=   # MSP-IMPROV directory (session1..6 or Audio/); empty: the embedded mini-MSP-IMPROV
casia=        # CASIA directory (<speaker>/<emotion>/*.wav, or the full release's subset folders); empty: mini-CASIA
corpus_size=default   # embedded corpora: default | tiny (a quick check of every stage) | full (the real corpora's sizes)
corpus_condition=read   # mini-TIMIT: read (voices, connected speech and recording varied as in read speech: TIMIT's
                        # regime) | clean (the first mini-TIMIT, for the figures of earlier releases)
seed=0        # the embedded corpora's seed (another seed: other speakers, sentences, recordings)
preset=       # fast (conf/fast: narrower nets, frame budgets; default on the embedded corpora) | paper (conf/paper)
device=auto   # auto (CUDA when present) | cpu | cuda
help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj N] [--timit DIR] [--iemocap DIR] [--msp-improv DIR] [--casia DIR] [--preset fast|paper] [--corpus-size tiny|default|full] [--corpus-condition read|clean] [--seed N]"
. recipe.sh

absolute() { [ -z "$1" ] || realpath "$1"; }
timit=$(absolute "$timit")
iemocap=$(absolute "$iemocap")
msp_improv=$(absolute "$msp_improv")
casia=$(absolute "$casia")
[ -n "$preset" ] || { [ -z "$timit$iemocap" ] && preset=fast || preset=paper; }
case "$preset" in fast) nets=conf/fast ;; paper) nets=conf/paper ;; *) die "--preset must be fast or paper, got $preset" ;; esac
# The nets of the later experiments: conf/fast for the embedded corpora, conf/<net>.yaml (their real size) otherwise.
ctc_config=$([ "$preset" = fast ] && echo conf/fast/ctc.yaml || echo conf/ctc.yaml)
cta_config=$([ "$preset" = fast ] && echo conf/fast/cta_rnn.yaml || echo conf/cta_rnn.yaml)
facenet_config=$([ "$preset" = fast ] && echo conf/fast/facenet.yaml || echo conf/facenet.yaml)

if stage 1 "TIMIT phone recognition: GMM-HMM mono/tri1/tri2/tri3 (SAT), alignments, the hybrid ConvNet-HMM, the CTC recogniser; sclite PER"; then
  egs/timit/s5/run.sh --nj "$nj" --timit "$timit" --corpus-size "$corpus_size" --corpus-condition "$corpus_condition" --corpus-seed "$seed" --nnet-config $nets/convnet.yaml --ctc-config "$ctc_config" --device "$device"
fi

if stage 2 "IEMOCAP emotion recognition: frame-level ConvNet on the LOSO folds, eGeMAPS + SVM baseline"; then
  egs/iemocap/s5/run.sh --nj "$nj" --iemocap "$iemocap" --corpus-size "$corpus_size" --corpus-seed "$seed" --nnet-config $nets/convnet_ser.yaml --device "$device"
fi

# The transfer stage takes its inputs from the two recipes: the source nets (SER: the first fold's), the ASR
# recipe's frames, targets, monophone HCLG and 48 -> 39 scoring map, the SER recipe's folds.
asr=egs/timit/s5
ser=egs/iemocap/s5

if stage 3 "transfer SER -> ASR: layers 1..l of the SER net constant, the rest trained on TIMIT, l = 1..5" \
    needs 1:$asr/exp/convnet/final.pt 2:$ser/exp/convnet/fold1/final.pt; then
  transfer.py --config $nets/convnet.yaml --cmd "$cuda_cmd" --device "$device" \
    --phone-map $asr/conf/timit/phones.60-48-39.map --phone-map-columns 2,3 \
    ser2asr $ser/exp/convnet/fold1/final.pt $asr/exp/tri3_ali_train/targets/num_classes $asr/exp/mono/graph \
    $asr/exp/mono/final.mdl $asr/exp/convnet $asr/data exp/transfer
fi

if stage 4 "transfer ASR -> SER: layers 1..l of the ASR net constant, the rest trained on each fold, l = 1..5" \
    needs 1:$asr/exp/convnet/final.pt 2:$ser/exp/ser_folds/num_folds; then
  transfer.py --config $nets/convnet_ser.yaml --cmd "$cuda_cmd" --device "$device" \
    asr2ser $asr/exp/convnet/final.pt $ser/data/iemocap $ser/exp/ser_folds exp/transfer
fi

if stage 5 "tables and figures: transfer tables, layer similarity (linear CKA), first-layer filters" \
    needs 3:exp/transfer/ser2asr/l1/decode_test/decode.done 4:exp/transfer/asr2ser/l1/results.json; then
  transfer.py collect $asr/exp/convnet $ser/exp/convnet exp/transfer
  transfer_analysis.py $asr/exp/convnet/final.pt $ser/exp/convnet/fold1/final.pt $asr/exp/convnet/frames_test \
    $ser/exp/ser_folds/fold1/frames_test exp/transfer
fi

if stage 6 "CTA-RNN: SER on the CTC encoder's layer embeddings, ablations, ConvNet and eGeMAPS; IEMOCAP, MSP-IMPROV, across" \
    needs 1:$asr/exp/ctc/final.pt 2:$ser/data/iemocap/utt2emo; then
  # The IEMOCAP recipe's ConvNet and eGeMAPS + SVM on the speaker folds (stage 2) serve that protocol's row.
  egs/cta_rnn/s5/run.sh --nj "$nj" --msp-improv "$msp_improv" --corpus-size "$corpus_size" --corpus-seed "$seed" \
    --cta-config "$cta_config" --nnet-config $nets/convnet_ser.yaml --speaker-baselines ../../iemocap/s5/exp \
    --device "$device"
fi

if stage 7 "FaceNet SER: waveform and spectrogram images, Inception-ResNet-v1, CASIA <-> IEMOCAP pre-training" \
    needs 2:$ser/data/iemocap/utt2emo; then
  # IEMOCAP's folds are the CTA-RNN experiment's (stage 6): its CTA-RNN, ConvNet and eGeMAPS rows join the table.
  egs/facenet/s5/run.sh --nj "$nj" --casia "$casia" --corpus-size "$corpus_size" --corpus-seed "$seed" \
    --facenet-config "$facenet_config" --baselines ../../cta_rnn/s5/exp --device "$device"
fi

if stage 9 "RESULTS.md (every recipe's tables) and REPORT.md (the paper side by side, deviations)" \
    needs 1:egs/timit/s5/RESULTS.md 2:egs/iemocap/s5/RESULTS.md 5:exp/transfer/{results,cka}.json; then
  {
    echo "# asrser results"
    for results in egs/*/s5/RESULTS.md; do
      [ -f "$results" ] || continue
      echo
      echo "## $(dirname "$(dirname "$results")" | xargs basename) ($results)"
      sed -e '1{/^# /d}' -e "s#](\([^)]*\.png\))#]($(dirname "$results")/\1)#" "$results"
    done
  } > RESULTS.md.tmp && mv RESULTS.md.tmp RESULTS.md
  make_report.py --preset "$preset" $([ -z "$timit$iemocap" ] || echo --real-corpora) \
    $([ ! -f egs/cta_rnn/s5/exp/cross_table.md ] || echo --cta-recipe egs/cta_rnn/s5) \
    $([ ! -f egs/facenet/s5/exp/facenet_table.md ] || echo --facenet-recipe egs/facenet/s5) egs/timit/s5 egs/iemocap/s5 \
    exp/transfer REPORT.md
fi
