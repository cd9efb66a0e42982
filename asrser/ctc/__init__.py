"""The end-to-end CTC phone recogniser, which is also the toolkit's own pre-trained ASR encoder: a conv front
end subsampling 40 fbank x4 in time, Conformer or BLSTM blocks, a CTC head over the training phones + blank
(model), its trainer (train), greedy and phone-bigram decoding scored like every TIMIT system (decode), and
the encoder view of a trained model for layer embeddings (encoder)."""
