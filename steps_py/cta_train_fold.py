#!/usr/bin/env python3
"""Train a CTA-RNN (or one of its ablations, --variant) on fold k of an SER folds dir, over stored layer
embeddings (early stopping on the fold's validation UA; resumes after a kill), then write to <out-dir>:
predictions.tsv (the validation and test utterances' decisions), layer_weights.tsv (the test utterances'
weight per layer), history.json, final.pt, description.json and the train.done stamp. Runs on CUDA when
present (--device to override). Pool the folds with ser_score.py.

Variants: last | weighted_sum | channel | temporal | cta (asrser/ser/cta_rnn.py lists what each one is and
every design choice).

Usage: cta_train_fold.py [--config conf/cta_rnn.yaml] [--variant V[,V...]] [--device D] <store-dir>[,<store-dir>...] <data-dir> <folds-dir> <k> <out-dir>
  e.g. cta_train_fold.py --variant cta exp/ctc_embeddings/iemocap data/iemocap exp/folds/iemocap_session 1 exp/cta/fold1
  or, one job per fold: $train_cmd JOB=1:5 exp/cta/log/fold.JOB.log cta_train_fold.py STORE DATA FOLDS JOB exp/cta/foldJOB
  (several stores, e.g. one per corpus for a cross-corpus fold, are separated by commas)
  Several variants in one call (one process start per fold, not per variant and fold): <out-dir> names
  each one's dir with {variant}, e.g. exp/cta_{variant}/fold1 or exp/{variant}/foldJOB.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--config", default="conf/cta_rnn.yaml")
p.add_argument("--variant", help="overrides the config's variant; several: comma-separated")
p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
p.add_argument("stores", help="embedding store dir(s), comma-separated")
p.add_argument("data_dir", help="the data dir with utt2spk")
p.add_argument("folds_dir", help="the folds dir (folds.json, classes.txt, utt2emo, utt2group)")
p.add_argument("k", type=cli.positive_int, help="the fold, 1-based")
p.add_argument("out_dir")


def main(a):
    from dataclasses import replace

    from asrser.ser.cta_rnn import CtaConfig, train_cta_fold
    from asrser.errors import AsrserError
    from asrser.ser.cta_rnn import VARIANTS
    config = CtaConfig.from_yaml(a.config)
    variants = [v for v in (a.variant or config.variant).split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise AsrserError(f"--variant: unknown variant(s) {', '.join(unknown)} (known: {' '.join(VARIANTS)})")
    if len(variants) > 1 and "{variant}" not in a.out_dir:
        raise AsrserError(f"several variants need {{variant}} in <out-dir> to keep them apart, got {a.out_dir}")
    for variant in variants:
        train_cta_fold([s for s in a.stores.split(",") if s], a.data_dir, a.folds_dir, a.k,
                       a.out_dir.replace("{variant}", variant), replace(config, variant=variant),
                       device=a.device, progress=True)


cli.run(main, p.parse_args())
