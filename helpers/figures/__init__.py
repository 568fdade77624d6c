"""Figures: the project's plots in one style, and the live loss display of a training.

Drawing only: they are given arrays and tables, and import nothing of detectors or runs.
"""
