"""Federation: merge other IDPs into one view."""
