import json

import numpy as np
import pytest

from asrser.encoders.store import EmbeddingMeta, EmbeddingStore, read_meta, write_embeddings
from asrser.errors import AsrserError, DataError


def _items(rng, n=3, layers=4, dim=5):
    return [(f"utt{i}", rng.standard_normal((layers, 7 + i, dim)).astype(np.float32)) for i in range(n)]


def test_layers_come_back_as_written(tmp_path):
    items = _items(np.random.default_rng(0))
    meta = EmbeddingMeta("test", ("frontend", "b1", "b2", "b3"), 5, 0.04)
    assert write_embeddings(tmp_path / "e", items, meta) == 3
    store = EmbeddingStore(tmp_path / "e")
    assert store.meta.layers == 4 and store.meta.utterances == 3
    for utt, layers in items:
        np.testing.assert_array_equal(store.read(utt), layers)
        np.testing.assert_array_equal(store.read(utt, [3, 1]), layers[[3, 1]])
    assert (tmp_path / "e" / "utt2num_frames").read_text().split() == ["utt0", "7", "utt1", "8", "utt2", "9"]
    # Kaldi's view: a (frames, layers * dim) matrix, layer k in columns k*dim..
    import kaldiio
    mat = kaldiio.load_scp(str(tmp_path / "e" / "feats.scp"))["utt1"]
    np.testing.assert_array_equal(mat[:, 10:15], items[1][1][2])


def test_missing_utterances_and_stores_are_named(tmp_path):
    meta = EmbeddingMeta("test", ("a", "b"), 5, 0.04)
    write_embeddings(tmp_path / "e", _items(np.random.default_rng(0), layers=2), meta)
    store = EmbeddingStore(tmp_path / "e")
    with pytest.raises(DataError, match=r"feats.scp.*2 utterance\(s\) of the folds have no embeddings, e.g. x1"):
        store.require(["utt0", "x1", "x2"])
    with pytest.raises(AsrserError, match="not a complete embedding store"):
        read_meta(tmp_path)
    with pytest.raises(AsrserError, match=r"expected \(2, frames, 5\)"):
        write_embeddings(tmp_path / "f", [("u", np.zeros((3, 4, 5)))], meta)
    assert not (tmp_path / "f" / "embeddings.json").exists()
    doc = json.loads((tmp_path / "e" / "embeddings.json").read_text())
    (tmp_path / "e" / "embeddings.json").write_text(json.dumps({**doc, "dim": 4}))
    with pytest.raises(DataError, match="expected \\(frames, 2 x 4\\)"):
        EmbeddingStore(tmp_path / "e").read("utt0")
