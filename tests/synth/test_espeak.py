"""The isolated espeak-ng server: a synthesis child that dies inside espeak-ng is an error naming the cause,
not a wait for ever, and the server goes on serving."""

import subprocess
import sys

import pytest

SCENARIO = """
from asrser.errors import AsrserError
from asrser.synth.espeak import IsolatedSynthesizer, Voice

# espeak-ng 1.51 aborts ("buffer overflow detected") on a variant name this long
synth = IsolatedSynthesizer([Voice(name="mczhaoquanyinbreathy")], "cmn-latn-pinyin")
try:
    synth.synthesize("ni3 hao3", voice="cmn-latn-pinyin+mczhaoquanyinbreathy")
except AsrserError as e:
    print("ERROR", e)
print("after", len(synth.synthesize("ni3 hao3", voice="cmn-latn-pinyin").samples) > 0)
synth.close()
"""


def test_a_child_that_dies_in_espeak_is_an_error_and_the_server_goes_on():
    done = subprocess.run([sys.executable, "-c", SCENARIO], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    if "ERROR" not in done.stdout:
        pytest.skip("this espeak-ng speaks the long variant name instead of aborting")
    assert ("ERROR espeak synthesis failed for 'ni3 hao3': espeak-ng died with signal 6 while speaking this group "
            "(voice 'cmn-latn-pinyin+mczhaoquanyinbreathy')") in done.stdout
    assert "after True" in done.stdout


def test_server_messages_carry_samples_and_voices_exactly():
    """The server's replies carry each sample array's bytes as they are (empty ones too) beside the JSON."""
    import io

    import numpy as np

    from asrser.synth.espeak import Voice, _frame, _read_message

    samples = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    voice = Voice(name="mtx", formants={1: (98, 100, 101)}, pitch=(90, 150), breath=(1, 1))
    message = ("ok", [[samples, [["a", 3]], [[1, 2, 3]]], [np.zeros(0, np.int16), [], []]], voice)
    back = _read_message(io.BytesIO(_frame(message)))
    assert back[1][0][0].dtype == np.int16 and back[1][0][0].tobytes() == samples.tobytes()
    assert back[1][0][1:] == [[["a", 3]], [[1, 2, 3]]] and len(back[1][1][0]) == 0
    assert back[2] == voice
    assert _read_message(io.BytesIO(b"")) is None
