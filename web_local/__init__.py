"""The hall's community web page, served on the node (issue 4)."""
