"""Neural acoustic and emotion models: the Fayek (2016) ConvNet built from a YAML layer list, frame data with
on-the-fly splicing, training with checkpoints, and hybrid decoding with Kaldi graphs."""
