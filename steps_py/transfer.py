#!/usr/bin/env python3
"""The shared transfer stage: copy the first l layers of one task's trained ConvNet, keep them constant and
train the rest on the other task with its own protocol; or collect both directions' tables.

Usage: transfer.py [--config NET.yaml] [--layers 1:5] [--cmd CMD] ser2asr|asr2ser|collect <timit-recipe> <iemocap-recipe> <out-dir>
  e.g. transfer.py --config conf/fast/convnet.yaml --cmd "$train_cmd" ser2asr egs/timit/s5 egs/iemocap/s5 exp/transfer
ser2asr: the SER net of fold 1 -> TIMIT nets <out-dir>/ser2asr/l<l> (train, decode dev and test: FER, PER).
asr2ser: the TIMIT net -> SER nets on every fold, <out-dir>/asr2ser/l<l>/fold<k> (E, UE).
collect: <out-dir>/results.json with the baselines (l = 0 is the baseline: it copies nothing).
--config is the target task's network config; its layers 1..l must match the source net's.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--config", default=None, help="the target task's network config (required for training)")
p.add_argument("--layers", default="1:5", help="first:last number of constant layers, within 0..5")
p.add_argument("--cmd", default="asrser-run --backend local --max-jobs 2")
p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
p.add_argument("what", choices=["ser2asr", "asr2ser", "collect"])
p.add_argument("timit_recipe")
p.add_argument("iemocap_recipe")
p.add_argument("out_dir")


def main(a):
    from pathlib import Path

    from asrser.errors import AsrserError
    from asrser.transfer import stage
    asr, ser = stage.AsrRecipe(Path(a.timit_recipe)), stage.SerRecipe(Path(a.iemocap_recipe))
    if a.what == "collect":
        stage.collect_transfer_results(asr, ser, a.out_dir)
        return
    try:
        first, last = (int(x) for x in a.layers.split(":"))
    except ValueError:
        raise AsrserError(f"--layers {a.layers!r}: expected first:last, e.g. 1:5") from None
    if a.config is None:
        raise AsrserError("--config: the target task's network config is needed for training")
    run = stage.transfer_ser_to_asr if a.what == "ser2asr" else stage.transfer_asr_to_ser
    run(asr, ser, first, last, a.config, a.out_dir, a.cmd, a.device)


cli.run(main, p.parse_args())
