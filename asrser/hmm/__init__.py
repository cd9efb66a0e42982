"""The HMM side of every acoustic model, shared by the GMM systems (`asrser.gmm`) and the hybrid nets
(`asrser.nnet`): Kaldi's transition model and tree (`model`), transition-id tables and alignment conversions
(`tables`), frame targets for nets (`targets`), training and HCLG decoding graphs (`graph`), forced alignment
and alignment archives (`align`), lattice decoding (`decode`), phone-boundary accuracy (`boundaries`),
phone and word CTMs of alignments (`ctm`), and the lang's phone sets, tree roots and word positions
(`phone_sets`).

An acoustic model plugs in as a scorer: per utterance a (frames x columns) matrix of log-likelihoods, and a
table `tid2column` naming each transition-id's column. GMMs and pdf-level nets score pdfs
(`HmmModel.tid2pdf`); the paper's nets score monophone HMM states (`targets.target_table`).
"""
