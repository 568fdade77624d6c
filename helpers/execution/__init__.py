"""Execution: the notebooks rendered from their template and run headless under papermill, the
regression check, and the command line (python -m helpers).
"""
