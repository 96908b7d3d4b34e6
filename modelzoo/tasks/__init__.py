"""The end-to-end flow of each kind of recipe: data → fit → export."""
