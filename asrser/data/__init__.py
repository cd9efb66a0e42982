"""Kaldi data directories: reading, validation, splitting, subsetting, combining, fixing."""

from .datadir import (DataDir, ValidationIssue, check_data_dir, combine_data_dirs, copy_data_dir, fix_data_dir,
                      import_data_dirs, split_data_dir, split_heldout, subset_data_dir, validate_data_dir,
                      write_spk2utt)

__all__ = ["DataDir", "ValidationIssue", "check_data_dir", "combine_data_dirs", "copy_data_dir", "fix_data_dir",
           "import_data_dirs",
           "split_data_dir", "split_heldout", "subset_data_dir", "validate_data_dir", "write_spk2utt"]
