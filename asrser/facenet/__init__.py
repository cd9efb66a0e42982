"""FaceNet speech emotion recognition: segment images, Inception-ResNet-v1, training."""
