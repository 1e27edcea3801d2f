"""fashionvision.viz: drawing garments, detections, masks and landmarks; image grids."""

from fashionvision.viz.draw import category_color, draw_annotation, draw_grid

__all__ = ["category_color", "draw_annotation", "draw_grid"]
