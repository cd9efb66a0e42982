"""The embedded corpora: license-free stand-ins for TIMIT and IEMOCAP, synthesised with espeak-ng in the real
corpora's layouts (exact phone boundaries, emotion-like prosody, recording conditions). Only the recipes'
generation stages import this package; the readers of the real layouts are in asrser.corpora."""
