#!/usr/bin/env python3
"""Train the end-to-end CTC phone recogniser (conf/ctc.yaml: conv subsampling x4 + Conformer or BLSTM blocks,
CTC over the lang's words + blank) on a data dir's fbank; greedy PER on the dev set each epoch, early stopping,
a checkpoint per epoch, resumes after a kill. <out-dir>/final.pt holds the weights, config, tokens, the training
frames' normalisation and the fbank options (--fbank-config: those the features were made with), so that it
alone decodes (ctc_decode.py) and encodes new audio (asrser.ctc.encoder.load_ctc_encoder).

Usage: ctc_train.py [--config conf/ctc.yaml] [--fbank-config conf/fbank.conf] <train-data> <dev-data> <lang> <out-dir>
  e.g. ctc_train.py data-fbank/train data-fbank/dev data/lang exp/ctc
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--config", default="conf/ctc.yaml")
p.add_argument("--fbank-config", default="conf/fbank.conf", help="the options the data dirs' fbank was made with")
p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
p.add_argument("--max-epochs", type=int, default=None)
p.add_argument("--seed", type=int, default=None)
p.add_argument("train_data")
p.add_argument("dev_data")
p.add_argument("lang")
p.add_argument("out_dir")


def main(a):
    from asrser.ctc.model import CtcConfig
    from asrser.ctc.train import train_ctc
    overrides = {k: v for k, v in (("max_epochs", a.max_epochs), ("seed", a.seed)) if v is not None}
    train_ctc(a.train_data, a.dev_data, a.lang, a.out_dir, CtcConfig.from_yaml(a.config, **overrides),
              a.fbank_config, a.device)


cli.run(main, p.parse_args())
