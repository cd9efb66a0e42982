#!/usr/bin/env python3
"""Frame targets for frame-level SER: the utterance's emotion on voiced frames (WebRTC VAD, energy and
periodicity), Silence elsewhere; the classes of the folds dir (classes.txt, then sil), one per frame of the
features the net reads (framed as --feature-config says). Also counts utterances without a voiced frame and names unreadable audio
(skipped).

Usage: ser_frame_targets.py [--config conf/vad.yaml] [--feature-config conf/fbank.conf] <data-dir> <folds-dir> <out-dir>
  e.g. ser_frame_targets.py --config conf/vad.yaml --feature-config conf/fbank.conf data/iemocap exp/ser_folds exp/ser_targets
<data-dir> needs wav.scp; <folds-dir> the classes and labels of ser_make_folds.py (classes.txt, utt2emo).
Writes <out-dir>/targets.{ark,scp}, num_classes and vad.json.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--config", help="voice-activity thresholds (YAML, see conf/vad.yaml); default: its values")
p.add_argument("--feature-config", default="conf/fbank.conf",
               help="the fbank option file of the features the targets go with (their frame length, shift, "
                    "snip-edges and sample rate)")
p.add_argument("data_dir")
p.add_argument("folds_dir")
p.add_argument("out_dir")


def main(a):
    from asrser.features import FeatureConfig
    from asrser.ser.frames import VadConfig, write_frame_targets
    config = VadConfig.from_yaml(a.config) if a.config else VadConfig()
    framing = FeatureConfig.from_file("fbank", a.feature_config).framing
    write_frame_targets(a.data_dir, a.folds_dir, a.out_dir, config, framing)


cli.run(main, p.parse_args())
