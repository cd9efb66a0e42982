#!/usr/bin/env python3
"""Train a frame classifier (the ConvNet of conf/convnet.yaml by default) on prepared frames; validation FER
per epoch, learning-rate halving, early stopping, a checkpoint per epoch, resumes after a kill. Runs on CUDA
when present (--device to override). Data parallel: --ngpu G trains on G GPUs of this machine (one process
each, NCCL), --nproc N in N processes on its CPUs (gloo); inside a Slurm job of several nodes (asrser-run
--backend slurm --nodes M) the processes run on every node of the job, through srun.

Usage: nnet_train.py [--config conf/convnet.yaml] [--transfer-from NET --frozen-layers L] [--ngpu G | --nproc N] <train-frames> <valid-frames> <num-classes> <out-dir>
  e.g. nnet_train.py exp/convnet/frames_train exp/convnet/frames_dev 144 exp/convnet
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--config", default="conf/convnet.yaml")
p.add_argument("--transfer-from", default=None, help="a trained network (final.pt) to copy layers from")
p.add_argument("--frozen-layers", type=int, default=0, help="copy its first L layers (0-5) and keep them constant")
p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
p.add_argument("--ngpu", type=cli.non_negative_int, default=0, help="GPUs to train on, one process each (NCCL)")
p.add_argument("--nproc", type=cli.positive_int, default=1, help="processes to train in on the CPUs (gloo)")
p.add_argument("--max-epochs", type=int, default=None)
p.add_argument("--seed", type=int, default=None)
p.add_argument("train_frames")
p.add_argument("valid_frames")
p.add_argument("num_classes", help="a number or a file holding it (e.g. .../targets/num_classes)")
p.add_argument("out_dir")


def main(a):
    import os
    import sys
    from asrser.errors import AsrserError, DataError
    from asrser.runner.distributed import is_rank, job_nodes, launch
    if a.ngpu and a.nproc > 1:
        raise AsrserError("--ngpu G runs G processes, one per GPU: give --ngpu or --nproc, not both")
    nproc = max(a.ngpu, a.nproc)
    if not is_rank() and (nproc > 1 or job_nodes() > 1):
        return launch([os.path.abspath(sys.argv[0]), *sys.argv[1:]], nproc)
    device = "cuda" if a.ngpu else ("cpu" if a.nproc > 1 else a.device)
    from asrser.nnet.model import NetConfig
    from asrser.nnet.train import train_net
    overrides = {k: v for k, v in (("max_epochs", a.max_epochs), ("seed", a.seed)) if v is not None}
    n = a.num_classes
    try:
        num_classes = int(open(n).read()) if os.path.isfile(n) else int(n)
    except ValueError:
        raise DataError(n, "<num-classes> must be a number or a file holding one") from None
    train_net(a.train_frames, a.valid_frames, a.out_dir, NetConfig.from_yaml(a.config, **overrides), num_classes,
              transfer_from=a.transfer_from, frozen_layers=a.frozen_layers, device=device)


cli.run(main, p.parse_args())
