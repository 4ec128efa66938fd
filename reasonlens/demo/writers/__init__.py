"""Scripts to spans: the shared flow, and one module per attribute convention."""
