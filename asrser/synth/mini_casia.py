"""mini-CASIA: a license-free Mandarin acted-emotion corpus synthesised with espeak-ng, in the CASIA layout.

    CASIA/<speaker>/<emotion>/<nnn>.wav         16 kHz mono 16-bit PCM; labels are the folder names only

Four speakers as in the circulated CASIA subset, two women (liuchanhg, zhaoquanyin) and two men (wangzhe,
ZhaoZuoxiang), each reading the same sentences in six emotions (angry fear happy neutral sad surprise); file
nnn is the same sentence in every folder (numbered from 201, as the circulated subset's files are).

The sentences are everyday Mandarin that carries no emotion in its words (SENTENCES, about two seconds
each when read). espeak-ng pronounces Chinese characters badly, so they are converted with pypinyin to
tone-numbered pinyin, one syllable a word (`ni3 hao3`), which espeak's cmn-latn-pinyin voice reads as
syllables with their tones (and its own third-tone sandhi). Each speaker is a set of espeak variants on one
drawn vocal tract (synth.emotional.speaker_voices), with the speaker's own pitch, range and rate.

Emotion lives in the voice (CASIA_PROFILES, through synth.emotional's Profile and rendition): anger loud,
tense and fast; fear high, breathy and fast with a narrow range; happiness high and bright with a wide range;
sadness low, slow, soft and breathy with pauses; surprise the highest and widest. The actors express
strongly (INTENSITY) and the recordings are clean studio speech: no noise, no reverberation, one level per
speaker (the abstract of Liu et al. 2021 credits CASIA's clean signals for its high accuracy). So the corpus
is meant to be easier than mini-IEMOCAP (whose four classes score about 60% UA): eGeMAPS + linear SVM, leave
one speaker out (validation on the next speaker), default size, seed 0: UA 75.8% over the six classes (chance
16.7%); sad is the easiest (95% recall), happy the hardest (65%, confused with anger, fear and surprise).
Generation: about 60 clips per CPU second (1,200 clips took 20 s of CPU with --nj 1).

Same size and seed give a byte-identical corpus, whatever the number of jobs (synth.emotional).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AsrserError
from ..fileio import check_generated_dir
from .emotional import (Profile, Rendition, Speaker, at_level, limit, rendition, speaker_voices, synthesize_turns,
                        tilted, wav_num_samples)
from .espeak import OUTPUT_RATE, Voice

log = logging.getLogger(__name__)

ROOT_NAME = "CASIA"
LANGUAGE = "cmn-latn-pinyin"       # espeak-ng's Mandarin voice reading pinyin
SPEAKERS = (("liuchanhg", "F"), ("zhaoquanyin", "F"), ("wangzhe", "M"), ("ZhaoZuoxiang", "M"))
EMOTIONS = ("angry", "fear", "happy", "neutral", "sad", "surprise")
FIRST_NUMBER = 201
# default is already the circulated CASIA's size (4 speakers x 6 emotions x 50 sentences): full is the same corpus
SIZES = {"tiny": dict(sentences=5), "default": dict(sentences=50), "full": dict(sentences=50)}

# Written for this corpus: short everyday statements and questions, plausible in any of the six emotions.
SENTENCES = (
    "今天的天气很好。", "我们明天早上出发。", "他已经回家了。", "这件事情你知道吗？", "火车马上就要开了。",
    "桌子上有一封信。", "她昨天给我打电话了。", "会议改到星期五了。", "我在这里等了一下午。", "你把门关上吧。",
    "外面下起雨来了。", "他们搬到城里去了。", "这是最后一张票。", "我们坐公共汽车去。", "孩子们都睡着了。",
    "你看见我的钥匙了吗？", "商店八点钟关门。", "老师让我们明天交作业。", "他把钱还给了他们。", "晚饭已经准备好了。",
    "我下个月去北京。", "这本书是他写的。", "电话一直没有人接。", "你怎么现在才来？", "明天还要上班。",
    "他们在门口等着我们。", "房子看起来不一样了。", "我刚才听到一个声音。", "她把窗户打开了。", "这条路通到河边。",
    "我们下午再谈这件事。", "他的车还在车库里。", "你自己去看一看吧。", "信是今天下午收到的。", "我没想到你会这样做。",
    "大家都已经走了。", "小猫在沙发上睡觉。", "他说他明天不来了。", "我们去年夏天见过面。", "这个问题很简单。",
    "飞机晚点了两个小时。", "你的包在椅子下面。", "妈妈在厨房里做饭。", "他每天早上都跑步。", "我把照片放在抽屉里了。",
    "房间里的灯突然灭了。", "我们只剩下十分钟了。", "她的电脑昨天坏了。", "今天是星期三。", "门外站着一个人。",
)

# How each emotion departs from the speaker's neutral voice at full intensity (compare mini_iemocap.PROFILES;
# the dimensional ratings are unused here: CASIA has none).
CASIA_PROFILES = {
    "neutral": Profile(0, 50, 0.00, 0, 0.00, 0, "modal", 3.0, 2.2, 2.8),
    "angry": Profile(6, 70, 0.14, 8, 0.45, 0, "tense", 1.6, 4.3, 4.3),
    "fear": Profile(12, 32, 0.18, -3, -0.15, 1, "breathy", 1.8, 3.7, 1.8),
    "happy": Profile(10, 80, 0.14, 3, 0.20, 0, "bright", 4.2, 3.4, 3.2),
    "sad": Profile(-9, 22, -0.30, -6, -0.40, 3, "breathy", 1.7, 1.7, 2.0),
    "surprise": Profile(24, 99, -0.12, 5, 0.00, 1, "modal", 3.5, 4.0, 2.9),
}
INTENSITY = (0.6, 1.0)             # acted, strongly expressed
# Per-clip jitter, as mini_iemocap.SPREAD. eGeMAPS + linear SVM UA, default size, seed 0: 1.0 -> 64.6% (with
# happy and surprise both bright and closer in pitch), 0.7 -> 75.8%.
SPREAD = 0.7


def to_pinyin(text: str) -> str:
    """Chinese text -> space-separated tone-numbered pinyin syllables (5 = neutral tone, v = ü) with ASCII
    punctuation, as espeak's cmn-latn-pinyin voice reads it: `你好。` -> `ni3 hao3 .`"""
    from pypinyin import Style, lazy_pinyin

    punctuation = {"，": ",", "。": ".", "？": "?", "！": "!", "、": ",", "；": ";", "：": ":"}
    words = []
    for token in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True):
        for part in token.split():
            if re.fullmatch(r"[a-z]+[1-5]", part):
                words.append(part)
            elif all(c in punctuation or c in ",.?!;:" for c in part):
                words.extend(punctuation.get(c, c) for c in part)
            else:
                raise AsrserError(f"mini-CASIA: cannot convert {part!r} of {text!r} to pinyin")
    return " ".join(words)


def make_speakers(seed: int) -> list[Speaker]:
    rng = np.random.default_rng([seed, 20])
    speakers = []
    for k, (sid, sex) in enumerate(SPEAKERS):
        # short variant names (mc1modal): espeak-ng 1.51 overflows a buffer (and aborts) on a voice name as
        # long as "cmn-latn-pinyin+mczhaoquanyinbreathy"
        voices = speaker_voices(str(k + 1), sex, rng, prefix="mc")
        speakers.append(Speaker(sid, k + 1, sex, voices, pitch=int(rng.integers(40, 60)),
                                pitch_range=int(rng.integers(40, 60)), rate=int(rng.integers(215, 255)),
                                expressiveness=float(rng.uniform(0.85, 1.15))))
    return speakers


def speaker_levels(seed: int) -> dict[str, float]:
    """RMS level (dBFS) of each speaker's neutral speech: one studio, one microphone gain per speaker."""
    rng = np.random.default_rng([seed, 22])
    return {sid: float(rng.uniform(-26, -20)) for sid, _ in SPEAKERS}


# -- the plan ---------------------------------------------------------------------------------------------

@dataclass
class Clip:
    name: str                     # liuchanhg-angry-201
    speaker: Speaker
    emotion: str
    number: int
    sentence: str                 # the Chinese text
    text: str                     # what espeak reads: its pinyin
    rendition: Rendition
    level_dbfs: float
    seed: int
    path: str

    @property
    def wav(self) -> Path:
        return Path(self.path)


def plan_corpus(out_dir: str | os.PathLike, size: str = "default", seed: int = 0,
                spread: float = SPREAD) -> list[Clip]:
    """Every clip with all of its random choices; nothing is synthesised here."""
    if size not in SIZES:
        raise AsrserError(f"unknown mini-CASIA size {size!r} ({', '.join(SIZES)})")
    speakers = make_speakers(seed)
    levels = speaker_levels(seed)
    pinyin = [to_pinyin(s) for s in SENTENCES[:SIZES[size]["sentences"]]]
    root = Path(out_dir) / ROOT_NAME
    clips = []
    for k, spk in enumerate(speakers):
        for e, emotion in enumerate(EMOTIONS):
            for j, text in enumerate(pinyin):
                rng = np.random.default_rng([seed, 21, k, e, j])
                number = FIRST_NUMBER + j
                r = rendition(spk, CASIA_PROFILES[emotion], rng.uniform(*INTENSITY), rng, spread, language=LANGUAGE)
                clips.append(Clip(f"{spk.id}-{emotion}-{number}", spk, emotion, number, SENTENCES[j], text, r,
                                  levels[spk.id], seed=int(rng.integers(0, 2 ** 62)),
                                  path=str(root / spk.id / emotion / f"{number:03d}.wav")))
    return clips


# -- synthesis and writing --------------------------------------------------------------------------------

def render(speech: np.ndarray, clip: Clip, rng: np.random.Generator) -> np.ndarray:
    """The clip's emotion-dependent tilt and loudness at its speaker's level, between short silences: clean
    studio speech (no noise, no room)."""
    r = clip.rendition
    x = at_level(tilted(speech.astype(np.float64), r.tilt), clip.level_dbfs + r.gain_db + rng.normal(0, 0.5))
    lead = int(rng.integers(int(0.1 * OUTPUT_RATE), int(0.3 * OUTPUT_RATE)))
    tail = int(rng.integers(int(0.1 * OUTPUT_RATE), int(0.3 * OUTPUT_RATE)))
    return limit(np.concatenate([np.zeros(lead), x, np.zeros(tail)]))


def all_voices(clips: list[Clip]) -> list[Voice]:
    voices = {v.name: v for c in clips for v in c.speaker.voices.values()}
    return [voices[k] for k in sorted(voices)]


def generate(out_dir: str | os.PathLike, size: str = "default", seed: int = 0, nj: int = 1,
             progress: bool = True, spread: float = SPREAD) -> int:
    """Write the corpus under <out_dir>/CASIA; returns the number of clips. Finished wav files are kept (a
    killed run resumes)."""
    check_generated_dir(out_dir, "mini-CASIA", size=size, seed=seed, spread=spread)
    clips = plan_corpus(out_dir, size, seed, spread)
    todo = [c for c in clips if not c.wav.exists()]
    synthesize_turns(todo, all_voices(clips), render, nj, f"mini-CASIA ({size})", progress, LANGUAGE)
    minutes = sum(wav_num_samples(c.wav) for c in clips) / OUTPUT_RATE / 60
    log.info("mini-CASIA %s (seed %d): %d clips (%d new) of %d speakers, %.1f min of audio, in %s", size, seed,
             len(clips), len(todo), len({c.speaker.id for c in clips}), minutes, Path(out_dir) / ROOT_NAME)
    return len(clips)


__all__ = ["generate", "plan_corpus", "make_speakers", "to_pinyin", "CASIA_PROFILES", "SENTENCES", "SIZES",
           "SPREAD", "ROOT_NAME", "SPEAKERS", "EMOTIONS"]
