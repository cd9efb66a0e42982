"""FaceNet SER (Liu et al., 2021): speech segments as images, an Inception-ResNet-v1, training and transfer."""
