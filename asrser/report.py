"""The paper's reporting (Fayek, Lech & Cavedon 2016). REPORT.md: the whole paper's results from a finished
./run.sh, in the paper's order: the ASR baseline, the SER baseline, transfer both ways, the layer analysis, and
every deviation from the paper's protocol. The TIMIT recipe's RESULTS.md: the generic PER tables with the
hybrid systems beside the paper's baseline row and the boundary accuracy of the alignments."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .fileio import atomic_write
from .scoring import TUNING_SET, collect_results, decode_error_rates
from .transfer.report import PAPER
from .transfer.stage import ser_row

ASR_SYSTEMS = (("mono", "monophone GMM-HMM"), ("tri1", "tri1: triphones on deltas"),
               ("tri2", "tri2: LDA+MLLT triphones"), ("tri3", "tri3: speaker-adapted (SAT, fMLLR) triphones"),
               ("convnet", "ConvNet-HMM hybrid"), ("ctc", "CTC Conformer, end to end, with the phone bigram"),
               ("ctc_greedy", "CTC Conformer, greedy (no LM)"))
# Anchors of the CTA-RNN section, all on the real corpora.
CTA_ANCHORS = ("SpeechBrain's CTC recipe on real TIMIT: 14.78% test PER",
               "SUPERB emotion recognition (IEMOCAP, leave one session out): FBANK 35.4%, WavLM Large 70.0% accuracy")
# What the CTA-RNN recipe (egs/cta_rnn/s5) chose where the paper's abstract is silent; the model's own choices
# are the numbered list of asrser.ser.cta_rnn's docstring.
CTA_RECIPE_CHOICES = (
    "The pre-trained ASR encoder: nothing can be downloaded, so the toolkit trains its own end-to-end encoder, a "
    "CTC Conformer phone recogniser on TIMIT (the TIMIT recipe's stages 21-22), and uses all its layers (the "
    "front end and every block); `--encoder hf:DIR` takes a local wav2vec2 / HuBERT / WavLM directory instead. "
    "On the embedded corpora the encoder has heard about 50 minutes of synthetic read speech, not the thousands "
    "of hours of the paper's encoder.",
    "Embeddings are extracted once per corpus into Kaldi archives (`exp/embeddings/<corpus>`) and every fold of "
    "every system reads them; the encoder is never fine-tuned.",
    "Classes: the 4-class protocol on both corpora (ang, hap with exc merged in on IEMOCAP, neu, sad; "
    "MSP-IMPROV's A H N S by the raters' consensus label, O and X dropped).",
    "Protocols: IEMOCAP leave one session out (5 folds, validation on the next session, rotating) and the "
    "Fayek speaker folds (2 validation speakers, leave one of the other 8 out); MSP-IMPROV leave one session "
    "out (6 folds, rotating validation); across corpora, train on all of one corpus but its last session "
    "(validation) and test on all of the other.",
    "WA (share of test utterances right) and UA (mean per-class recall), pooled over each protocol's folds and "
    "recomputed from the saved predictions.",
    "The baselines run on exactly the same folds: the Fayek frame ConvNet (with its silence class) and eGeMAPS + "
    "linear SVM.",
)


def hybrid_baseline_table(exp_dir: str | os.PathLike) -> str:
    """A RESULTS.md section: FER and PER of every hybrid system of <exp_dir> (decodes with frame targets) in the
    form of the paper's baseline row, with that row ("" when there is no hybrid system)."""
    from .hmm.decode import decode_counts

    exp_dir = Path(exp_dir)
    hybrids = sorted({d.parent.name for d in exp_dir.glob("*/decode_*") if "fer_frames" in decode_counts(d)})
    if not hybrids:
        return ""
    lines = [f"\nHybrid systems in the form of the paper's baseline row (frame error rate against the "
             f"tri3 forced alignments, over the frames that have one; PER as above, at the LM weight "
             f"chosen on {TUNING_SET}). The paper's figures are on real TIMIT: a different corpus, shown "
             "for orientation only.\n\n| system | FER dev | FER test | PER dev | PER test |\n"
             "|---|---:|---:|---:|---:|\n"]
    untargeted = []
    for system in hybrids:
        rates = {name: decode_error_rates(exp_dir / system / f"decode_{name}") for name in ("dev", "test")}
        cells = [f"{rates[name][kind]:.2f}%" if kind in rates[name] else "-"
                 for kind in ("fer", "per") for name in ("dev", "test")]
        lines.append(f"| {system} (this corpus) | " + " | ".join(cells) + " |\n")
        untargeted += [f"{system} {name}: {rates[name]['fer_untargeted']}" for name in ("dev", "test")
                       if rates[name].get("fer_untargeted")]
    paper = PAPER["ser_to_asr"]["baseline"]
    lines.append("| ConvNet, Fayek et al. 2016 (real TIMIT) | " + " | ".join(
        f"{paper[k]:.2f}%" for k in ("fer_dev", "fer_test", "per_dev", "per_test")) + " |\n")
    if untargeted:
        lines.append("\nUtterances without frame targets (no forced alignment), decoded and in the PER but left "
                     "out of the FER: " + ", ".join(untargeted) + ".\n")
    return "".join(lines)


# Kaldi's egs/timit/s5 RESULTS on real TIMIT (PER %, dev / test) for the systems this recipe shares with it, and
# the paper's ConvNet hybrid: the regime the embedded corpus should put the systems in.
KALDI_REAL_TIMIT = {"mono": (31.7, 32.7), "tri1": (25.1, 25.6), "tri2": (23.0, 23.7), "tri3": (20.3, 21.6),
                    "convnet": (17.5, 18.5)}
KALDI_REAL_TIMIT_NAMES = {"convnet": "nnet1 DNN"}


def regime_table(exp_dir: str | os.PathLike) -> str:
    """A RESULTS.md section: each GMM system's and the hybrid's PER on this corpus beside Kaldi's on real TIMIT,
    and each as a share of the monophone's, so a reader sees whether the corpus puts the systems in TIMIT's
    regime (absolute level and the gains of each step). "" when no system shared with Kaldi is scored."""
    exp_dir = Path(exp_dir)
    rows = []
    for system, kaldi in KALDI_REAL_TIMIT.items():
        rates = [decode_error_rates(exp_dir / system / f"decode_{name}").get("per") if
                 (exp_dir / system / f"decode_{name}").is_dir() else None for name in ("dev", "test")]
        if any(r is not None for r in rates):
            rows.append((system, rates, kaldi))
    if not rows:
        return ""
    mono = dict((system, rates) for system, rates, _ in rows).get("mono")

    def share(value, base):
        return f"{value / base:.2f}" if value is not None and base else "-"

    lines = ["\nThe regime: PER % (Kaldi's scoring, dev-tuned LM weight) beside Kaldi's egs/timit/s5 on real "
             "TIMIT, and each system's PER as a share of the monophone's (Kaldi's shares from its own "
             f"figures; the paper's ConvNet hybrid on real TIMIT: {PAPER['ser_to_asr']['baseline']['per_dev']:.2f}"
             f" / {PAPER['ser_to_asr']['baseline']['per_test']:.2f}).\n\n"
             "| system | dev | test | Kaldi, real TIMIT dev / test | ÷ mono dev / test | Kaldi ÷ mono |\n"
             "|---|---:|---:|---|---|---|\n"]
    kaldi_mono = KALDI_REAL_TIMIT["mono"]
    for system, rates, kaldi in rows:
        cells = [f"{r:.2f}" if r is not None else "-" for r in rates]
        ours = " / ".join(share(r, m) for r, m in zip(rates, mono or (None, None)))
        theirs = " / ".join(f"{k / km:.2f}" for k, km in zip(kaldi, kaldi_mono))
        name = f"{system} (Kaldi: {KALDI_REAL_TIMIT_NAMES[system]})" if system in KALDI_REAL_TIMIT_NAMES else system
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {kaldi[0]} / {kaldi[1]} | {ours} | {theirs} |\n")
    return "".join(lines)


# Real test sets of the TIMIT recipe (its --real-test): <exp>/real_test/<name>/ and each system's
# decode_<name>; the table's title.
REAL_TEST_TITLES = {"asterisk": "Real read English, Asterisk prompts, 8 kHz"}
REAL_TEST_SYSTEMS = ("mono", "tri1", "tri2", "tri3", "convnet")


def real_test_table(exp_dir: str | os.PathLike) -> str:
    """A RESULTS.md section per real test set of <exp_dir>/real_test/<name>: each system's PER on it beside dev
    and test (all at the LM weight chosen on dev), the PER of outputting silence alone, and how far the real
    fbank sits from the training set's ("" when there is none)."""
    exp_dir = Path(exp_dir)
    sections = []
    for real_dir in sorted(p for p in (exp_dir / "real_test").glob("*") if p.is_dir()):
        name = real_dir.name
        lines = [f"\n## {REAL_TEST_TITLES.get(name, name)}\n\nThe systems trained on the corpus above, decoding real "
                 f"speech (`{name}`): PER (39 phones, Kaldi's TIMIT scoring) against phone references from the "
                 "dictionary (CMUdict, espeak-ng G2P for the words it lacks; stops as closure + release, as TIMIT "
                 f"labels them), at the LM weight chosen on each system's {TUNING_SET} decode.\n\n"
                 f"| system | PER dev % | PER test % | PER {name} % |\n|---|---:|---:|---:|\n"]
        for system in REAL_TEST_SYSTEMS:
            if not (exp_dir / system / f"decode_{name}").is_dir():
                continue
            rates = [decode_error_rates(exp_dir / system / f"decode_{x}") for x in ("dev", "test", name)]
            lines.append(f"| {system} | " + " | ".join(_cell(r, "per", 2) for r in rates) + " |\n")
        silence = decode_error_rates(real_dir / "silence_only") if (real_dir / "silence_only").is_dir() else None
        if silence and "per_oracle" in silence:
            lines.append(f"| silence only | | | {silence['per_oracle']:.2f} |\n")
        distance = real_dir / "fbank_distance.json"
        if distance.exists():
            d = json.loads(distance.read_text())
            lines.append(f"\nReal fbank against the training set's: mean over the {len(d['per_dim'])} dimensions of "
                         f"|mean_real - mean_train| / std_train = {d['distance']:.2f} (largest {d['max']:.2f}).\n")
        sections.append("".join(lines))
    return "".join(sections)


def write_timit_results(exp_dir: str | os.PathLike, out: str | os.PathLike, title: str) -> list[dict]:
    """The TIMIT recipe's RESULTS.md: scoring.collect_results with the regime table (beside Kaldi on real TIMIT),
    the hybrid systems beside the paper's baseline row, the forced alignments' boundary accuracy and the real
    test sets (real_test_table)."""
    from .hmm.boundaries import accuracy_table

    return collect_results(exp_dir, out, title, [regime_table(exp_dir), hybrid_baseline_table(exp_dir),
                                                 accuracy_table(exp_dir), real_test_table(exp_dir)])


def deviations(preset: str, embedded: bool) -> list[str]:
    """Where this run departs from the paper's protocol, and why."""
    items = []
    if embedded:
        items.append("**Corpora.** The embedded, license-free mini-TIMIT and mini-IEMOCAP (synthetic speech in the "
                     "real layouts) replace TIMIT and IEMOCAP, which cannot be distributed. Absolute numbers are "
                     "not comparable with the paper's; the trends across constant layers are what to compare.")
    if preset == "fast":
        items.append("**Network size and training budget (fast preset).** The paper's six layers, kernels, pooling, "
                     "BatchNorm and training recipe, but 16/32 convolution channels instead of 64/128, 256 units "
                     "instead of 1024 in layers 3-5 with dropout 0.3 instead of 0.6, and a budget of frames per "
                     "epoch (`conf/fast/*.yaml`), so that the whole paper runs in about half an hour on two CPU "
                     "cores. `--preset paper` trains the table as published on every frame with early stopping "
                     "(`conf/paper/`).")
    items += [
        "**Frames per epoch.** Each SER epoch (and, in the fast preset, each ASR epoch) draws a random sample of "
        "the training frames (neighbouring 31-frame windows overlap in 30 frames), and early stopping validates "
        "on every n-th validation frame (`epoch_frames`, `valid_stride` in the configs); the paper trains on all "
        "frames.",
        "**Validation speakers.** The paper holds out 2 of the 10 IEMOCAP speakers for validation without naming "
        "them; here Ses05F and Ses05M (`--validation` in `egs/iemocap/s5/run.sh`).",
        "**SER 'Dev'.** The paper's SER Dev column is read as the validation speakers: each fold's net predicts "
        "them, and E/UE are pooled over the 8 folds' predictions. 'Test' pools the held-out speakers.",
        "**l = 0.** Zero constant layers copies nothing from the source net, so with the same seed it is the "
        "baseline network itself (a test checks the equality); its row repeats the baseline instead of training "
        "it again. The paper's l = 0 row differs from its baseline only by training noise.",
        "**SER -> ASR source.** The SER net whose layers go to ASR is the first fold's (trained on 7 speakers); "
        "the paper does not say which of its SER nets it used.",
        "**Voice activity.** The paper's VAD is unspecified; here WebRTC's VAD, an energy margin over the noise "
        "floor and periodicity (Praat's window-corrected autocorrelation, 80-400 Hz; thresholds in "
        "`conf/vad.yaml`), so unvoiced frames count as silence as the paper describes.",
        "**Optimiser.** Mini-batch SGD with momentum 0.9 and newbob learning-rate halving on the validation frame "
        "error (the paper names SGD and RMSProp without saying which it used where; `optimizer: rmsprop` is "
        "available).",
        "**PER.** sclite on 39 phones after folding, dev and test alike at the LM weight with the lowest dev PER "
        "(so no test figure is tuned on test); Kaldi's RESULTS quote each set at its own best weight, which "
        "RESULTS.md gives beside it as the oracle.",
    ]
    return items


def _cell(values: dict | None, key: str, digits: int) -> str:
    return "–" if values is None or key not in values else f"{values[key]:.{digits}f}"


def _image(path: Path, out: Path, alt: str) -> str:
    return f"![{alt}]({os.path.relpath(path, out.parent)})\n" if path.exists() else ""


def listed_items(text: str) -> list[str]:
    """The items of a docstring's list ("1. ..." or "- ..." lines and their indented continuations), one
    string each; the list ends at the first line that is neither."""
    items: list[list[str]] = []
    for line in text.strip().splitlines():
        stripped = line.strip()
        number, _, rest = stripped.partition(". ")
        if (number.isdigit() and rest) or stripped.startswith("- "):
            items.append([rest if number.isdigit() else stripped[2:]])
        elif stripped and items and line.startswith("  "):
            items[-1].append(stripped)
        elif stripped and items:
            break
    return [" ".join(parts) for parts in items]


def cta_design_choices() -> list[str]:
    """The CTA-RNN model's numbered design choices, as its module documents them, one string each."""
    from .ser import cta_rnn

    return listed_items(cta_rnn.__doc__.split("every choice below is ours, with its reason:", 1)[1])


def cta_section(cta_recipe: Path, out: Path) -> list[str]:
    """REPORT.md's CTA-RNN section from the CTA-RNN recipe's files (its table, layer-weight figures)."""
    lines = ["## CTA-RNN (Chen & Zhang 2022): SER on the layer embeddings of an ASR encoder\n",
             "Within and across corpora, IEMOCAP and MSP-IMPROV, 4 classes; rows: the CTA-RNN, its ablations and "
             "the baselines on the same folds; WA / UA in %, pooled over each protocol's folds. Anchors on the "
             "real corpora: " + "; ".join(CTA_ANCHORS) + ".\n"]
    table = cta_recipe / "exp/cross_table.md"
    lines.append(table.read_text() if table.exists() else "(the CTA-RNN recipe's table is missing: run it)\n")
    for png in sorted(cta_recipe.glob("exp/*/cta/layer_weights.png")):
        lines.append(_image(png, out, f"CTA-RNN layer weights per emotion, {png.parent.parent.name}"))
    lines.append("### Design choices (only the abstract is known)\n")
    lines += [f"- {item}" for item in CTA_RECIPE_CHOICES]
    lines += [f"- Model: {item}" for item in cta_design_choices()]
    lines.append("")
    return lines

# What the FaceNet SER recipe (egs/facenet/s5) chose where the paper's abstract is silent; the images' and the
# trainer's own choices are the lists of asrser.facenet.images' and asrser.facenet.train's docstrings.
FACENET_RECIPE_CHOICES = (
    "Corpora: CASIA with its 6 emotions (angry fear happy neutral sad surprise, `normal` read as neutral) and "
    "IEMOCAP with the 4-class protocol of the other seed systems (ang, hap with exc merged in, neu, sad). On the "
    "embedded corpora CASIA is the generated mini-CASIA (espeak-ng's Mandarin voice read from pinyin, clean "
    "studio speech, 1,200 clips as the circulated subset).",
    "Folds: CASIA leave one speaker out (4 folds, validation on the next speaker, rotating); IEMOCAP leave one "
    "session out with the CTA-RNN experiment's folds (5 folds), so that the CTA-RNN, the Fayek ConvNet and "
    "eGeMAPS + SVM of those folds are rows of the same table.",
    "Pre-training: on all of the other corpus (every speaker or session but the last, which is the early-stopping "
    "validation set), with that corpus's classes; fine-tuning: every layer on each fold of the target corpus, the "
    "classifier head replaced for the target's classes. A model never sees its test corpus before its fold.",
    "The net: Inception-ResNet-v1 (FaceNet's backbone, written in the project) on the grey image (one input "
    "channel; face weights' first convolution summed over RGB, which equals the grey image fed as RGB), with a "
    "classifier on FaceNet's batch-normalised embedding trained by cross-entropy, not FaceNet's triplet loss (the "
    "task is 4-6 classes, and the abstract trains end to end). The fast preset of the embedded corpora keeps the "
    "block structure (5 x Block35, 10 x Block17, 5 x Block8 + 1) at an eighth of the width with a 128-dimensional "
    "embedding; `conf/facenet.yaml` is the full net (23.5 M parameters without the head).",
    "Face weights (the title's transfer from face recognition): imported only from a local checkpoint "
    "(`--face-weights`), never downloaded; none ships with the toolkit, so the default table has no such rows.",
    "An utterance's decision: the mean of its segments' softmax posteriors, then the most probable class.",
    "WA (share of test utterances right) and UA (mean per-class recall), pooled over each protocol's folds and "
    "recomputed from the saved predictions; the paper's 90% / 68.96% (real corpora, WA or UA not stated) stand "
    "beside them as a labelled row, not as comparable figures.",
)


def facenet_design_choices() -> list[str]:
    """The images' and the trainer's design choices, as their modules list them."""
    from .facenet import images, train

    return ([f"Images: {item}" for item in listed_items(images.__doc__.split("is chosen here (and in ImageConfig):", 1)[1])]
            + [f"Training: {item}" for item in listed_items(train.__doc__.split("every choice of this trainer, with its reason:", 1)[1])])


def facenet_section(facenet_recipe: Path, out: Path) -> list[str]:
    """REPORT.md's FaceNet SER section from the FaceNet recipe's files (its table, example images)."""
    lines = ["## FaceNet SER (Liu et al. 2021): waveform and spectrogram images, CASIA <-> IEMOCAP\n",
             "Speech cut into fixed-length segments, each drawn as a waveform diagram or a spectrogram image of "
             "160x160, classified by an Inception-ResNet-v1 trained end to end; rows: image kind x pre-training, "
             "then the other seed systems on the same IEMOCAP folds; WA / UA in %.\n"]
    table = facenet_recipe / "exp/facenet_table.md"
    lines.append(table.read_text() if table.exists() else "(the FaceNet recipe's table is missing: run it)\n")
    for png in sorted(facenet_recipe.glob("exp/images/*.png")):
        lines.append(_image(png, out, f"Example segment images, {png.stem}"))
    lines.append("### Design choices (only the abstract is known)\n")
    lines += [f"- {item}" for item in FACENET_RECIPE_CHOICES]
    lines += [f"- {item}" for item in facenet_design_choices()]
    lines.append("")
    return lines


def write_report(timit_recipe: str | os.PathLike, iemocap_recipe: str | os.PathLike,
                 transfer_dir: str | os.PathLike, out: str | os.PathLike, preset: str, embedded: bool,
                 cta_recipe: str | os.PathLike | None = None, facenet_recipe: str | os.PathLike | None = None
                 ) -> None:
    from .transfer.analysis import cka_table_markdown
    from .transfer.report import write_transfer_report

    timit, iemocap = Path(timit_recipe), Path(iemocap_recipe)
    transfer_dir, out = Path(transfer_dir), Path(out)
    corpora = "the embedded mini-TIMIT and mini-IEMOCAP" if embedded else "TIMIT and IEMOCAP"
    lines = [f"# Features between ASR and SER: the paper reproduced on {corpora}\n",
             f"Fayek, Lech & Cavedon (2016), *On the Correlation and Transferability of Features between Automatic "
             f"Speech Recognition and Speech Emotion Recognition*. Preset: **{preset}**. Every number below "
             f"comes from this run's files (the recipes' `exp/` and `exp/transfer/`); the paper's numbers are "
             f"printed beside ours"
             + (" and were measured on the real corpora, so only the trends are comparable." if embedded else ".")
             + "\n"]

    lines.append("## ASR: TIMIT phone recognition (PER %, 39 phones, sclite)\n")
    lines.append("PER of dev and test at the LM weight chosen on dev; FER against the tri3 forced alignments.\n")
    lines.append("| system | PER dev | PER test | FER dev | FER test |\n|---|---:|---:|---:|---:|")
    for name, label in ASR_SYSTEMS:
        rates = {s: decode_error_rates(timit / "exp" / name / f"decode_{s}") for s in ("dev", "test")}
        lines.append(f"| {label} | {_cell(rates['dev'], 'per', 2)} | {_cell(rates['test'], 'per', 2)} | "
                     + (f"{_cell(rates['dev'], 'fer', 2)} | {_cell(rates['test'], 'fer', 2)} |" if name == "convnet"
                        else " |  |"))
    paper = PAPER["ser_to_asr"]["baseline"]
    lines.append(f"| ConvNet-HMM, the paper (real TIMIT) | {paper['per_dev']:.2f} | {paper['per_test']:.2f} | "
                 f"{paper['fer_dev']:.2f} | {paper['fer_test']:.2f} |\n")
    lines.append(_image(timit / "RESULTS.png", out, "PER by system"))

    lines.append("## SER: IEMOCAP, 4 emotions, leave one speaker out (8 folds, 2 validation speakers)\n")
    lines.append("| system | E dev % | E test % | UE dev % | UE test % |\n|---|---:|---:|---:|---:|")
    for system, label in (("convnet", "ConvNet, frame level, 5 classes"), ("egemaps_svm", "eGeMAPS + linear SVM")):
        row = ser_row(iemocap / "exp" / system)
        if row is not None:
            lines.append(f"| {label} | " + " | ".join(_cell(row, k, 1) for k in ("e_dev", "e_test", "ue_dev", "ue_test"))
                         + " |")
    paper = PAPER["asr_to_ser"]["baseline"]
    lines.append("| ConvNet, the paper (real IEMOCAP) | " + " | ".join(
        f"{paper[k]:.2f}" for k in ("e_dev", "e_test", "ue_dev", "ue_test")) + " |\n")
    lines.append(_image(iemocap / "exp/convnet/confusion.png", out, "SER ConvNet confusion"))

    results_path = transfer_dir / "results.json"
    if results_path.exists():
        results = json.loads(results_path.read_text())
        write_transfer_report(results, transfer_dir / "transfer.md", transfer_dir / "transfer.json",
                              transfer_dir / "transfer.png", corpus_note=corpora if embedded else None)
        lines.append("## Transfer learning between the tasks\n")
        lines.append("Layers 1..l of the source task's net are copied and kept constant; the other layers "
                     "are trained on the target task with its own protocol.\n")
        lines += [line for line in (transfer_dir / "transfer.md").read_text().splitlines()
                  if not line.startswith("![")]                 # the figure is linked below, relative to out
        lines.append(_image(transfer_dir / "transfer.png", out, "Transfer learning performance"))

    cka_path = transfer_dir / "cka.json"
    if cka_path.exists():
        cka = json.loads(cka_path.read_text())
        lines.append("## Beyond the paper: layer by layer, how alike are the two nets?\n")
        lines.append(f"Linear CKA (1 = the same representation up to rotation and scale) between the ASR net's "
                     f"layers (rows) and the SER net's (columns) on the same {cka['frames']} held-out frames "
                     "(half TIMIT core test, half an IEMOCAP test speaker).\n")
        lines.append(cka_table_markdown(cka["cka"], names=("ASR", "SER")))
        lines.append(_image(transfer_dir / "cka.png", out, "Linear CKA between the ASR and the SER net"))
        lines.append("The first convolutional layer's filters of both nets (the paper's 'learned features' "
                     "figure):\n")
        lines.append(_image(transfer_dir / "filters.png", out, "First-layer filters, ASR and SER"))

    if cta_recipe is not None:
        lines += cta_section(Path(cta_recipe), out)
    if facenet_recipe is not None:
        lines += facenet_section(Path(facenet_recipe), out)

    lines.append("## Deviations from the paper's protocol\n")
    lines += [f"- {item}" for item in deviations(preset, embedded)]
    with atomic_write(out) as f:
        f.write("\n".join(lines) + "\n")
