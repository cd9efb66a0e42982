"""Readers of the real corpora's layouts (TIMIT, IEMOCAP) into Kaldi data dirs. The embedded stand-ins that
are generated in the same layouts are in asrser.synth."""
