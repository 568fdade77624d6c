"""The data: DCASE editions and their rules, clip names and folders, audio, log-mel features and
their cache, the synthetic generator, downloads and ground truth.

Nothing here knows of networks, scores or notebooks.
"""
