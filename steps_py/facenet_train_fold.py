#!/usr/bin/env python3
"""Train FaceNet SER (Inception-ResNet-v1 over segment images) on fold k of an SER folds dir, with early
stopping on the fold's validation UA (resumes after a kill), then write to <out-dir>: predictions.tsv (the
validation and test utterances' decisions: the mean of their segments' posteriors), posteriors.tsv,
history.json, final.pt, description.json and the train.done stamp. k = all pre-trains on the whole corpus
(every group but the last trains, the last validates; no test) for --init of another corpus's folds.
Runs on CUDA when present (--device to override). Pool the folds with ser_score.py.

--init: a pre-trained final.pt (all but the classifier head; a new head for this corpus's classes), or
face:PATH, local FaceNet face weights (asrser/facenet/face_weights.py). asrser/facenet/train.py lists every
design choice.

Usage: facenet_train_fold.py [--config conf/facenet.yaml] [--init PATH|face:PATH] [--device D] <image-dir> <folds-dir> <k|all> <out-dir>
  e.g. facenet_train_fold.py exp/images/casia_waveform exp/folds/casia 1 exp/facenet/casia_waveform/fold1
       facenet_train_fold.py exp/images/casia_waveform exp/folds/casia all exp/facenet/pretrain/casia_waveform
       facenet_train_fold.py --init exp/facenet/pretrain/casia_waveform/final.pt IMAGES FOLDS 1 OUT/fold1
  or, one job per fold: $train_cmd JOB=1:4 exp/facenet/log/fold.JOB.log facenet_train_fold.py IMAGES FOLDS JOB OUT/foldJOB
"""
from asrser import cli



def fold_or_all(value: str) -> int | str:
    return value if value == "all" else cli.positive_int(value)


p = cli.parser(__doc__)
p.add_argument("--config", default="conf/facenet.yaml")
p.add_argument("--init", help="a pre-trained final.pt, or face:PATH (face weights)")
p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
p.add_argument("image_dir", help="the image cache (make_images.py) of the folds' utterances")
p.add_argument("folds_dir", help="the folds dir (folds.json, classes.txt, utt2emo, utt2group)")
p.add_argument("k", type=fold_or_all, help="the fold, 1-based, or all (pre-training on the whole corpus)")
p.add_argument("out_dir")


def main(a):
    from asrser.facenet.train import FacenetConfig, pretrain_facenet, train_facenet_fold

    config = FacenetConfig.from_yaml(a.config)
    if a.k == "all":
        pretrain_facenet(a.image_dir, a.folds_dir, a.out_dir, config, init=a.init, device=a.device, progress=True)
    else:
        train_facenet_fold(a.image_dir, a.folds_dir, a.k, a.out_dir, config, init=a.init,
                           device=a.device, progress=True)


cli.run(main, p.parse_args())
