#!/usr/bin/env python3
"""The shared transfer stage: copy the first l layers of one task's trained ConvNet, keep them constant and
train the rest on the other task with its own protocol; or collect both directions' tables.

Usage: transfer.py [options] ser2asr <source-net> <num-classes> <graph-dir> <hmm-model> <frames-dir> <data-dir> <out-dir>
       transfer.py [options] asr2ser <source-net> <data-dir> <folds-dir> <out-dir>
       transfer.py collect <asr-system> <ser-system> <out-dir>
  e.g. transfer.py --config conf/fast/convnet.yaml --cmd "$train_cmd" --phone-map conf/timit/phones.60-48-39.map \\
         --phone-map-columns 2,3 ser2asr egs/iemocap/s5/exp/convnet/fold1/final.pt \\
         egs/timit/s5/exp/tri2_ali_train/targets/num_classes egs/timit/s5/exp/mono/graph \\
         egs/timit/s5/exp/mono/final.mdl egs/timit/s5/exp/convnet egs/timit/s5/data exp/transfer
ser2asr: <source-net> -> ASR nets <out-dir>/ser2asr/l<l>, trained on <frames-dir>/frames_{train,dev} with
  <num-classes> targets, decoded with the HCLG of <graph-dir> and its <hmm-model> on frames_{dev,test} and
  scored against <data-dir>/{dev,test}/text (FER, PER).
asr2ser: <source-net> -> SER nets on every fold of <folds-dir> (ser_prepare_folds.py) of the SER <data-dir>,
  <out-dir>/asr2ser/l<l>/fold<k> (E, UE).
collect: <out-dir>/results.json with the baselines (l = 0 is the baseline: it copies nothing), the ASR system
  dir with decode_{dev,test} and the SER system dir with results.json.
--config is the target task's network config; its layers 1..l must match the source net's. --layers defaults
to 1..(the source net's layers but its output layer).
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--config", default=None, help="the target task's network config (required for training)")
p.add_argument("--layers", default=None, help="first:last number of constant layers (default: all of the "
                                              "source net's but its output layer)")
p.add_argument("--cmd", default="asrser-run --backend local --max-jobs 2")
p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
cli.add_scoring_options(p)
what = p.add_subparsers(dest="what", required=True, metavar="ser2asr|asr2ser|collect")
ser2asr = what.add_parser("ser2asr")
for name in ("source_net", "num_classes", "graph_dir", "hmm_model", "frames_dir", "data_dir", "out_dir"):
    ser2asr.add_argument(name)
asr2ser = what.add_parser("asr2ser")
for name in ("source_net", "data_dir", "folds_dir", "out_dir"):
    asr2ser.add_argument(name)
collect = what.add_parser("collect")
for name in ("asr_system", "ser_system", "out_dir"):
    collect.add_argument(name)


def main(a):
    from pathlib import Path

    from asrser.errors import AsrserError
    from asrser.phones import read_scoring_map
    from asrser.transfer import stage
    if a.what == "collect":
        stage.collect_transfer_results(a.asr_system, a.ser_system, a.out_dir)
        return
    layers = None
    if a.layers is not None:
        try:
            layers = tuple(int(x) for x in a.layers.split(":"))
            first, last = layers
        except ValueError:
            raise AsrserError(f"--layers {a.layers!r}: expected first:last, e.g. 1:5") from None
    if a.config is None:
        raise AsrserError("--config: the target task's network config is needed for training")
    if a.what == "ser2asr":
        scoring = ()
        if a.phone_map is not None:
            read_scoring_map(a.phone_map, a.phone_map_columns)        # a bad map fails now, not after training
            scoring = ("--phone-map", a.phone_map, "--phone-map-columns", a.phone_map_columns)
        if a.scoring_unit is not None:
            scoring += ("--scoring-unit", a.scoring_unit)
        if a.word_ins_penalty != p.get_default("word_ins_penalty"):
            scoring += ("--word-ins-penalty", a.word_ins_penalty)
        asr = stage.AsrTask(Path(a.num_classes), Path(a.graph_dir), Path(a.hmm_model), Path(a.frames_dir),
                            Path(a.data_dir), scoring)
        stage.transfer_ser_to_asr(a.source_net, asr, a.config, a.out_dir, a.cmd, a.device, layers)
    else:
        ser = stage.SerTask(Path(a.data_dir), Path(a.folds_dir))
        stage.transfer_asr_to_ser(a.source_net, ser, a.config, a.out_dir, a.cmd, a.device, layers)


cli.run(main, p.parse_args())
