"""The toolkit's package, in layers along the data flow; a module imports only from its own layer
and the ones above it in this list (tests/test_architecture.py holds it to that):

- ``helpers`` itself: the foundations every layer uses: errors, atomic file writes (fileio),
  project paths, the cores a process may use (threads, allocator), notebook front-end facts
  (frontend), the skipped-file log (skiplog), figures recorded for regression (recording) and the
  evaluation formulas (metrics: AUC, pAUC, precision, recall, F1, their means).
- :mod:`helpers.data`: DCASE editions and their rules, clip names and folders, audio, log-mel
  features and their cache, the synthetic generator, downloads and ground truth.
- :mod:`helpers.figures`: the plots, and the live loss display of a training.
- :mod:`helpers.detectors`: a solution's settings and model, network inputs, objectives, frozen
  pretrained networks, density back ends, decision thresholds, the detector that owns them, and the
  framework engines.
- :mod:`helpers.experiments`: training and testing a solution on a data folder, the result files,
  and looking at clips through a detector (inspection, the clip browser).
- :mod:`helpers.execution`: notebooks rendered from their template and run headless, the
  regression check, and the command line (``python -m helpers``).
"""
