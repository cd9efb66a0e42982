"""FaceNet SER: speech segments as images (waveform diagrams, spectrograms) classified by Inception-ResNet-v1."""
