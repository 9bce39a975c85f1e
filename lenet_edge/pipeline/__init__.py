"""One command from data to a flashed digit reader: train, prune, QAT, int8, check, firmware, report."""
