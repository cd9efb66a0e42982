"""The cross-training table of the FaceNet SER experiment (egs/facenet/s5): one row per image kind and
pre-training (none, the other corpus, face weights), then the other seed systems on the same IEMOCAP folds
(CTA-RNN, Fayek ConvNet) and eGeMAPS + SVM; columns WA and UA on CASIA (leave one speaker out) and IEMOCAP
(leave one session out); the paper's figures below, labelled as real-corpus figures.

Every cell is recomputed from a system's saved predictions by asrser.ser.cross_table (`<exp>/<protocol>/
<kind>_<init>/predictions.tsv`); a system not run, or pre-trained on the corpus it is tested on, is a dash.
"""

from __future__ import annotations

import os

from ..ser.cross_table import Column, write_cross_table

KINDS = (("waveform", "waveform diagram"), ("spectrogram", "spectrogram"))
INITS = (("scratch", "no pre-training"), ("from_casia", "pre-trained on CASIA"),
         ("from_iemocap", "pre-trained on IEMOCAP"), ("from_face", "from FaceNet face weights"))
OTHER_SYSTEMS = (("cta", "CTA-RNN (layer embeddings of the CTC encoder)"), ("convnet", "Fayek ConvNet (frame-level)"),
                 ("egemaps_svm", "eGeMAPS + SVM"))
SYSTEMS = tuple((f"{kind}_{init}", f"FaceNet, {kind_name}, {init_name}") for kind, kind_name in KINDS
                for init, init_name in INITS) + OTHER_SYSTEMS
COLUMNS = (Column("casia", "CASIA (leave one speaker out, 6 classes)", "casia"),
           Column("iemocap", "IEMOCAP (leave one session out, 4 classes)", "iemocap_session"))
# Liu et al. 2021's abstract: 90% on CASIA, 68.96% on IEMOCAP (the final system: waveforms, pre-trained on CASIA,
# fine-tuned on IEMOCAP); whether WA or UA is not stated, and its folds are not known.
PAPER_ROW = ("| Liu et al. 2021 (real CASIA / IEMOCAP; WA or UA not stated) | 90 | 90 | 68.96 | 68.96 |",)


def write_facenet_table(exp_dir: str | os.PathLike, out_md: str | os.PathLike) -> dict:
    """<out_md> and <out_md>.json: the cross-training table from <exp_dir>/<protocol>/<system>/predictions.tsv
    and the protocols' classes (<exp_dir>/folds/<protocol>/classes.txt)."""
    return write_cross_table(exp_dir, out_md, systems=SYSTEMS, columns=COLUMNS, extra_rows=PAPER_ROW)
