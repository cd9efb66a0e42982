"""Speech emotion recognition: baselines, folds and metrics."""
