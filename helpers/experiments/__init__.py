"""Experiments: a solution trained and tested on a data folder (helpers.experiments.pipeline), the
official figures and result files of each edition, and what a person looks at afterwards: clips
through a detector's eyes and the clip browser.
"""
