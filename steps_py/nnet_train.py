#!/usr/bin/env python3
"""Train a frame classifier (the ConvNet of conf/convnet.yaml by default) on prepared frames; validation FER
per epoch, learning-rate halving, early stopping, a checkpoint per epoch, resumes after a kill. Under
torchrun it trains data-parallel. Runs on CUDA when present (--device to override).

Usage: nnet_train.py [--config conf/convnet.yaml] [--transfer-from NET --frozen-layers L] <train-frames> <valid-frames> <num-classes> <out-dir>
  e.g. nnet_train.py exp/convnet/frames_train exp/convnet/frames_dev 144 exp/convnet
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--config", default="conf/convnet.yaml")
p.add_argument("--transfer-from", default=None, help="a trained network (final.pt) to copy layers from")
p.add_argument("--frozen-layers", type=int, default=0, help="copy its first L layers (0-5) and keep them constant")
p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
p.add_argument("--max-epochs", type=int, default=None)
p.add_argument("--seed", type=int, default=None)
p.add_argument("train_frames")
p.add_argument("valid_frames")
p.add_argument("num_classes", help="a number or a file holding it (e.g. .../targets/num_classes)")
p.add_argument("out_dir")


def main(a):
    import os
    from asrser.errors import DataError
    from asrser.nnet.model import NetConfig
    from asrser.nnet.train import train_net
    overrides = {k: v for k, v in (("max_epochs", a.max_epochs), ("seed", a.seed)) if v is not None}
    n = a.num_classes
    try:
        num_classes = int(open(n).read()) if os.path.isfile(n) else int(n)
    except ValueError:
        raise DataError(n, "<num-classes> must be a number or a file holding one") from None
    train_net(a.train_frames, a.valid_frames, a.out_dir, NetConfig.from_yaml(a.config, **overrides), num_classes,
              transfer_from=a.transfer_from, frozen_layers=a.frozen_layers, device=a.device)


cli.run(main, p.parse_args())
