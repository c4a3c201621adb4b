"""The paper's experiments: `grid` (figures, cells, running them) and `report` (tables, figures)."""
