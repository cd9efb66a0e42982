#!/usr/bin/env python3
"""Train the SER ConvNet on one prepared fold (early stopping on the validation speakers; resumes after a
kill), then write the utterance decisions of the validation and test speakers to <out-dir>/predictions.tsv.
Runs on CUDA when present (--device to override).

Usage: ser_train_fold.py [--config conf/convnet_ser.yaml] [--transfer-from NET --frozen-layers L] <data-dir> <fold-dir> <out-dir>
  e.g. ser_train_fold.py data/iemocap exp/ser_folds/fold1 exp/convnet/fold1
  or, one job per fold: $train_cmd JOB=1:8 exp/convnet/log/fold.JOB.log ser_train_fold.py data/iemocap exp/ser_folds/foldJOB exp/convnet/foldJOB
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--config", default="conf/convnet_ser.yaml")
p.add_argument("--transfer-from", default=None, help="a trained network (final.pt) to copy layers from")
p.add_argument("--frozen-layers", type=int, default=0, help="copy its first L layers (0-5) and keep them constant")
p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
p.add_argument("data_dir", help="the data dir with utt2spk and utt2emo")
p.add_argument("fold_dir")
p.add_argument("out_dir")


def main(a):
    from asrser.nnet.model import NetConfig
    from asrser.ser.convnet import train_fold
    train_fold(a.data_dir, a.fold_dir, a.out_dir, NetConfig.from_yaml(a.config), transfer_from=a.transfer_from, frozen_layers=a.frozen_layers,
               device=a.device, progress=False)


cli.run(main, p.parse_args())
