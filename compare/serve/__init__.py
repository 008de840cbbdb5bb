"""`mnist-compare serve`: the local page that asks a run's networks about a drawing and
lists and compares the runs (docs/serve.md). `runs` finds run folders and their files,
`engine` loads and caches models and answers, `app` is the HTTP server; the page itself
(HTML, JS, CSS) is package data in `static/`."""
