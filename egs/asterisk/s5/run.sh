#!/usr/bin/env bash
# Word recognition on real read English: the Asterisk voice prompts (Debian's asterisk-core-sounds-en-wav and
# asterisk-core-sounds-en, CC-BY-SA; one female speaker, 8 kHz, 551 spoken prompts, about 24 minutes). Stage 0
# installs the two packages when missing and makes prompt-disjoint train/test data dirs; the later stages are the
# generic recipe's (egs/template/s5/run.sh): CMUdict + G2P lexicon, trigram LM, mono..tri3, the hybrid, WER.
# One speaker: the dev set is held out by utterance, and SAT (tri3) adapts to the recording, not to speakers.
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=100
nj=1                   # jobs split the data by speaker (as Kaldi's split_data.sh): one speaker, one job
seed=0                 # the prompt-disjoint split's seed
test_fraction=0.15     # share of the prompts held out for test
nnet_config=conf/fast/convnet.yaml
device=auto
help_message="Usage: $0 [--stage N] [--stop-stage M] [--nj N] [--seed N] [--test-fraction F] [--nnet-config F]"
stages_continue_in=$ASRSER_ROOT/egs/template/s5/run.sh   # stages 1-20: the generic recipe
. recipe.sh

if stage 0 "the Asterisk prompts: Debian packages (installed when missing), normalised transcripts, prompt-disjoint train/test" ; then
  "$ASRSER_ROOT/tools/install_debian.sh" asterisk-core-sounds-en-wav asterisk-core-sounds-en
  asterisk_data_prep.py --seed "$seed" --test-fraction "$test_fraction" data/local/asterisk
fi

(( stop_stage < 1 )) || "$stages_continue_in" --stage $(( stage > 1 ? stage : 1 )) --stop-stage "$stop_stage" \
  --nj "$nj" --seed "$seed" --train data/local/asterisk/train --test data/local/asterisk/test \
  --mfcc-config conf/mfcc_8k.conf --fbank-config conf/fbank_8k.conf --nnet-config "$nnet_config" --device "$device"
