"""Commands that need no broker: settings, enrich (the pipeline in-process), build-models, export-model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from claimstream.cli.common import EXIT_REJECTED, CliError, progress_bar
from claimstream.core.settings import Settings
from claimstream.core.text import printable


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    if args.markdown:
        print(Settings.markdown_table())
    else:
        for name, value in settings.public().items():
            print(f"CLAIMSTREAM_{name.upper()}={value}")
    return 0


def cmd_enrich(args: argparse.Namespace, settings: Settings) -> int:
    from claimstream.core.schema import Document, to_json
    from claimstream.local.inputs import read_records
    from claimstream.runtime.pipeline import Pipeline

    records = list(read_records(args.paths))
    pipeline = Pipeline.load(settings, progress=lambda stage: print(f"loading {stage}...", file=sys.stderr))
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    rejected = 0
    bar = progress_bar(len(records), "enrich")
    try:
        for start in range(0, len(records), settings.max_batch):
            chunk = records[start:start + settings.max_batch]
            docs = [r.result for r in chunk if isinstance(r.result, Document)]
            results = iter(pipeline.enrich(docs))
            for record in chunk:
                result = next(results) if isinstance(record.result, Document) else record.result
                if isinstance(result, Document):
                    out.write(to_json(result) + "\n")
                else:
                    rejected += 1
                    print(printable(f"{record.origin}: rejected ({result.reason}: {result.detail})"), file=sys.stderr)
                bar.update(1)
    finally:
        bar.close()
        if args.out:
            out.close()
    if args.groups:
        if pipeline.groups is None:
            raise CliError("--groups needs the claims stage, which is not part of this installation")
        with open(args.groups, "w", encoding="utf-8") as handle:
            for group in pipeline.groups.groups():
                handle.write(to_json(group) + "\n")
    pipeline.close()
    return EXIT_REJECTED if rejected else 0


def cmd_build_models(args: argparse.Namespace, settings: Settings) -> int:
    """Build the ONNX graphs the stages load from the bundled weights (cached by content hash)."""
    from claimstream.core.model import ModelLoadError
    from claimstream.encoder.build import build
    from claimstream.ner.transformer import build_tagger

    try:
        encoder = build(out=args.out)
        print(f"encoder     {encoder.directory}", file=sys.stderr)
        graph, config, _ = build_tagger(cache_dir=args.out)
        print(f"ner tagger  {graph} (top {config['top_layers']} layers fine-tuned)", file=sys.stderr)
    except ModelLoadError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_export_model(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from claimstream.translate.export import ExportError, export_model
    except ModuleNotFoundError as exc:
        raise CliError(f"export-model needs the export extra ({exc.name} is missing): "
                       "pip install 'claimstream[export]'") from None
    print(f"exporting {args.src} -> {args.out} ({args.dtype})...", file=sys.stderr)
    try:
        manifest = export_model(args.src, Path(args.out), args.dtype)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(manifest, indent=2, ensure_ascii=False))
    return 0
