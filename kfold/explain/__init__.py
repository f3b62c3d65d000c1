"""Grad-CAM explanations of a run and their localization against the defect boxes."""
