#!/usr/bin/env bash
# CTA-RNN (Chen & Zhang, Interspeech 2022): speech emotion recognition on the layer embeddings of a pre-trained
# ASR encoder, within and across corpora (IEMOCAP and MSP-IMPROV, 4 classes ang hap neu sad). Four protocols,
# each with its folds (exp/folds/<protocol>) and systems (exp/<protocol>/<system>):
#   iemocap_session  IEMOCAP, leave one session out (5 folds, validation on the next session)
#   iemocap_speaker  IEMOCAP, the Fayek speaker folds (2 validation speakers, leave one of the other 8 out)
#   msp_session      MSP-IMPROV, leave one session out (6 folds, validation on the next session)
#   cross            IEMOCAP -> MSP-IMPROV and MSP-IMPROV -> IEMOCAP (train on one, test all of the other)
# Systems: the CTA-RNN and its ablations (last layer, weighted sum of layers, channel attention, temporal
# attention, both) over the encoder's layer embeddings (extracted once per corpus), the Fayek frame ConvNet and
# eGeMAPS + SVM (the generic SER recipe's stages, egs/ser_template/s5). Without --msp-improv the embedded
# mini-MSP-IMPROV is generated (stage 0); IEMOCAP's data dir comes from the IEMOCAP recipe (--iemocap-data) or
# is prepared here from --iemocap.
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=100
nj=2
msp_improv=            # MSP-IMPROV (the dir holding session1..6 or Audio/); empty: the embedded mini-MSP-IMPROV
msp_improv_data=       # ... or its prepared data dir (wav.scp, utt2spk, utt2emo, utt2sess); skips its preparation
iemocap_data=../../iemocap/s5/data/iemocap   # IEMOCAP's data dir as egs/iemocap/s5 prepares it (stage 1)
iemocap=               # IEMOCAP_full_release: prepare IEMOCAP's data dir here instead
corpus_size=default    # mini-MSP-IMPROV size: tiny | default | full
corpus_seed=0
protocols="iemocap_session iemocap_speaker msp_session cross"
iemocap_validation="Ses05F Ses05M"   # the Fayek speaker folds' validation speakers
iemocap_class_map=conf/iemocap_emotions.map
msp_class_map=conf/msp_improv_emotions.map
encoder=ctc:../../timit/s5/exp/ctc/final.pt   # ctc:<TIMIT recipe's CTC model> | hf:<local wav2vec2/HuBERT/WavLM dir>
cta_config=conf/cta_rnn.yaml
variants="last weighted_sum channel temporal cta"   # the CTA-RNN ablations (cta: both attentions)
nnet_config=conf/fast/convnet_ser.yaml   # the Fayek ConvNet on every protocol's folds
fbank_config=conf/fbank.conf
vad_config=conf/vad.yaml
speaker_baselines=     # the IEMOCAP recipe's exp dir (e.g. ../../iemocap/s5/exp): take its ConvNet and eGeMAPS
                       # predictions for iemocap_speaker when its folds are these folds, instead of training again
device=auto            # auto (CUDA when present) | cpu | cuda
help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj N] [--msp-improv DIR | --msp-improv-data DIR]
       [--iemocap-data DIR | --iemocap DIR] [--encoder ctc:MODEL|hf:DIR] [--cta-config YAML] [--variants \"V...\"]
       [--protocols \"P...\"] [--nnet-config YAML] [--speaker-baselines DIR] [--corpus-size tiny|default|full] [--device D]"
. recipe.sh

ser_template=$ASRSER_ROOT/egs/ser_template/s5/run.sh
for p in $protocols; do
  case $p in iemocap_session|iemocap_speaker|msp_session|cross) ;;
    *) die "--protocols: unknown protocol '$p' (iemocap_session iemocap_speaker msp_session cross)" ;; esac
done
[ -z "$msp_improv" ] || [ -z "$msp_improv_data" ] || die "--msp-improv and --msp-improv-data exclude each other"
[ -z "$msp_improv" ] || [ -d "$msp_improv" ] || die "--msp-improv $msp_improv: no such directory"
[ -z "$iemocap" ] || [ -d "$iemocap" ] || die "--iemocap $iemocap: no such directory"
case $encoder in ctc:?*|hf:?*) ;; *) die "--encoder must be ctc:MODEL or hf:DIR, got '$encoder'" ;; esac
[ -n "$msp_improv" ] || [ -n "$msp_improv_data" ] || msp_improv=corpora/mini_msp_improv/MSP-IMPROV

# What each protocol runs on: its data dir, folds (fold-by, validation), class map, embedding stores.
declare -A data_of fold_by_of validation_of class_map_of stores_of title_of
data_of=([iemocap_session]=data/iemocap [iemocap_speaker]=data/iemocap [msp_session]=data/msp_improv
         [cross]=data/iemocap_msp)
fold_by_of=([iemocap_session]=session [iemocap_speaker]=speaker [msp_session]=session [cross]=corpus)
validation_of=([iemocap_speaker]="$iemocap_validation")
class_map_of=([iemocap_session]=$iemocap_class_map [iemocap_speaker]=$iemocap_class_map
              [msp_session]=$msp_class_map [cross]=data/iemocap_msp.map)
stores_of=([iemocap_session]=exp/embeddings/iemocap [iemocap_speaker]=exp/embeddings/iemocap
           [msp_session]=exp/embeddings/msp_improv [cross]=exp/embeddings/iemocap,exp/embeddings/msp_improv)
title_of=([iemocap_session]="IEMOCAP, leave one session out" [iemocap_speaker]="IEMOCAP, the Fayek speaker folds"
          [msp_session]="MSP-IMPROV, leave one session out" [cross]="IEMOCAP <-> MSP-IMPROV, across corpora")
corpora=$(for p in $protocols; do case $p in iemocap_*) echo iemocap ;; msp_*) echo msp_improv ;;
          cross) echo iemocap msp_improv ;; esac; done | tr ' ' '\n' | sort -u | tr '\n' ' ')

# The generic SER recipe's stages FIRST..LAST on protocol P: its fbank (data-fbank/<data>, shared by the
# protocols of a data dir), folds, frame targets, eGeMAPS + SVM, ConvNet and table (exp/P/RESULTS.md).
ser_protocol() {  # P FIRST LAST
  local p=$1
  "$ser_template" --stage "$2" --stop-stage "$3" --nj "$nj" --data "${data_of[$p]}" --fold-by "${fold_by_of[$p]}" \
    --validation "${validation_of[$p]:-}" --class-map "${class_map_of[$p]}" --nnet-config "$nnet_config" \
    --fbank-config "$fbank_config" --vad-config "$vad_config" --device "$device" --exp "exp/$p" \
    --folds "exp/folds/$p" --results "exp/$p/RESULTS.md" --title "${title_of[$p]}"
}

if stage 0 "embedded mini-MSP-IMPROV (skipped with --msp-improv or --msp-improv-data)"; then
  [ "$msp_improv" != corpora/mini_msp_improv/MSP-IMPROV ] || \
    make_mini_msp_improv.py --size "$corpus_size" --seed "$corpus_seed" --nj "$nj" corpora/mini_msp_improv
fi

if stage 1 "data dirs: data/iemocap, data/msp_improv, and data/iemocap_msp (both, with utt2corpus)"; then
  if [ -n "$msp_improv_data" ]; then
    [ -f "$msp_improv_data/utt2emo" ] || die "--msp-improv-data $msp_improv_data: no utt2emo (not a prepared MSP-IMPROV data dir)"
    copy_data_dir.py "$msp_improv_data" data/msp_improv
  else
    msp_improv_data_prep.py --resample "$msp_improv" data   # wavs not at 16 kHz: read through sox at 16 kHz
  fi
  if [ -n "$iemocap" ]; then
    iemocap_data_prep.py "$iemocap" data
  else
    [ -f "$iemocap_data/utt2emo" ] || die "--iemocap-data $iemocap_data: no utt2emo (run egs/iemocap/s5/run.sh --stop-stage 1 first, or give --iemocap DIR)"
    copy_data_dir.py "$iemocap_data" data/iemocap
  fi
  combine_data.py --corpus-names "iemocap msp_improv" data/iemocap_msp data/iemocap data/msp_improv
  # The codes of both corpora differ (IEMOCAP: neu hap exc ..., MSP-IMPROV: N H ...): one map holds both.
  cat "$iemocap_class_map" "$msp_class_map" > data/iemocap_msp.map.tmp && mv data/iemocap_msp.map.tmp data/iemocap_msp.map
fi

if stage 2 "classes and folds of every protocol ($protocols): exp/folds/<protocol>"; then
  for p in $protocols; do ser_protocol "$p" 3 3; done
fi

if stage 3 "layer embeddings of every utterance, once per corpus ($encoder): exp/embeddings/<corpus>"; then
  [[ $encoder != ctc:* ]] || [ -f "${encoder#ctc:}" ] || \
    die "--encoder $encoder: no such model (train it with the TIMIT recipe's CTC stage, egs/timit/s5/run.sh)"
  for c in $corpora; do
    extract_embeddings.py --device "$device" "$encoder" "data/$c" "exp/embeddings/$c"
  done
fi

if stage 4 "CTA-RNN and its ablations ($variants) on every fold of every protocol ($cta_config)"; then
  for p in $protocols; do
    [ -f "exp/folds/$p/folds.json" ] || die "stage 4 needs exp/folds/$p/folds.json, which stage 2 makes: run stage 2 first (--stage 2)"
    n=$(num_folds "exp/folds/$p/folds.json")
    # One job per fold trains every variant (the embeddings are read once per fold, not once per variant).
    $cuda_cmd JOB=1:"$n" "exp/$p/log/cta_fold.JOB.log" \
      cta_train_fold.py --config "$cta_config" --variant "${variants// /,}" --device "$device" "${stores_of[$p]}" \
      "${data_of[$p]}" "exp/folds/$p" JOB "exp/$p/{variant}/foldJOB"
    ser_score.py "exp/folds/$p" $(for v in $variants; do echo "exp/$p/$v"; done)
  done
fi

if stage 5 "Fayek ConvNet ($nnet_config) and eGeMAPS + SVM on every protocol's folds (egs/ser_template/s5)"; then
  for p in $protocols; do
    if [ "$p" = iemocap_speaker ] && [ -n "$speaker_baselines" ] && \
        [ -f "$speaker_baselines/convnet/predictions.tsv" ] && [ -f "$speaker_baselines/egemaps_svm/predictions.tsv" ] && \
        same_folds "$speaker_baselines/ser_folds" "exp/folds/$p"; then
      log "$p: the ConvNet and eGeMAPS + SVM of $speaker_baselines (the same folds)"
      for s in convnet egemaps_svm; do take_ser_system "$speaker_baselines/$s" "exp/$p/$s"; done
      ser_protocol "$p" 20 20
    else
      [ -z "$speaker_baselines" ] || [ "$p" != iemocap_speaker ] || \
        log "$p: $speaker_baselines has no finished ConvNet and eGeMAPS + SVM on the same folds: training them here"
      ser_protocol "$p" 2 2
      ser_protocol "$p" 4 20
    fi
  done
fi

if stage 6 "the CTA-RNN's layer weights per emotion (exp/<protocol>/cta/layer_weights.png)"; then
  for p in $protocols; do
    tsvs=(exp/$p/cta/fold*/layer_weights.tsv)
    [ -f "${tsvs[0]}" ] || die "exp/$p/cta/fold*/layer_weights.tsv: none, which stage 4 makes: run stage 4 first (--stage 4)"
    plot_layer_weights.py "${tsvs[@]}" "exp/$p/cta/layer_weights.png"
  done
fi

if stage 7 "RESULTS.md: the within/cross-corpus table (WA/UA of every system and protocol), per fold, layer weights"; then
  ser_cross_table.py exp exp/cross_table.md
  {
    echo "# CTA-RNN: SER on the layer embeddings of an ASR encoder ($encoder), within and across corpora"
    echo
    echo "Rows: systems; columns: protocols, WA (the share of test utterances right) and UA (the mean per-class"
    echo "recall) in %, pooled over each protocol's folds and recomputed from each system's \`predictions.tsv\`"
    echo "(a dash: not run). The cross-corpus columns train on all of one corpus (validation: its last session)"
    echo "and test all of the other."
    echo
    cat exp/cross_table.md
    for p in $protocols; do
      [ -f "exp/$p/cta/layer_weights.png" ] || continue
      echo
      echo "![${title_of[$p]}: CTA-RNN layer weights per emotion](exp/$p/cta/layer_weights.png)"
    done
    echo
    echo "Each protocol's own table (E/UE, validation, confusions): $(for p in $protocols; do
      [ -f "exp/$p/RESULTS.md" ] && printf '`exp/%s/RESULTS.md` ' "$p"; done)"
  } > RESULTS.md.tmp && mv RESULTS.md.tmp RESULTS.md
fi
