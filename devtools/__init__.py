"""Development tools: the embedded database, the demo data set, `cxgraph dev`. Not in the image."""
