"""FaceNet SER (Liu et al. 2021): segment images, Inception-ResNet-v1, cross-corpus pre-training."""
