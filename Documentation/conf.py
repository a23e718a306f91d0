# SPDX-License-Identifier: GPL-2.0
# Sphinx configuration for cowtrace's documentation (`make htmldocs`).
project = "cowtrace"
copyright = "cowtrace developers"
master_doc = "index"
exclude_patterns = []
html_theme = "alabaster"
