"""GMM-HMM acoustic models on the Kaldi wheels: training, alignment, graphs, decoding."""
