"""Detectors: a solution's settings and model, its network inputs, objectives, classification
heads, frozen pretrained networks, density back ends, decision thresholds, and the detector that owns them
(helpers.detectors.detector), with the framework engines that train and run its network
(PyTorch with Lightning, Keras).
"""
