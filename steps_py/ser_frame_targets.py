#!/usr/bin/env python3
"""Frame targets for frame-level SER: the utterance's emotion on voiced frames (WebRTC VAD, energy and
periodicity), Silence elsewhere; 5 classes (ang hap neu sad sil). Also counts utterances without a voiced
frame and names unreadable audio (skipped).

Usage: ser_frame_targets.py [--config conf/vad.yaml] <data-dir> <out-dir>
  e.g. ser_frame_targets.py --config conf/vad.yaml data/iemocap exp/ser_targets
<data-dir> needs wav.scp and utt2emo. Writes <out-dir>/targets.{ark,scp}, num_classes and vad.json.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--config", help="voice-activity thresholds (YAML, see conf/vad.yaml); default: its values")
p.add_argument("data_dir")
p.add_argument("out_dir")


def main(a):
    from asrser.ser.frames import VadConfig, write_frame_targets
    config = VadConfig.from_yaml(a.config) if a.config else VadConfig()
    write_frame_targets(a.data_dir, a.out_dir, config)


cli.run(main, p.parse_args())
