"""Transfer learning between ASR and SER: result tables against the paper's, and layer-wise feature analysis."""
