"""The `claimstream` command line, split by what the commands talk to.

- `main.py`: the parser and entry point;
- `stream.py`: commands on the stream (topics, serve, up, ingest, tail, claims, demo);
- `offline.py`: commands without a broker (settings, enrich, build-models, export-model);
- `deadletters.py`: `dlq`, listing and replaying dead letters;
- `common.py`: user errors, exit codes, decoding messages of any topic, progress bars.
"""
