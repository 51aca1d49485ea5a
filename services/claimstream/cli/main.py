"""The `claimstream` command: its parser and entry point (`claimstream = claimstream.cli.main:main`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from claimstream.cli.common import EXIT_USAGE, CliError
from claimstream.cli.offline import cmd_build_models, cmd_enrich, cmd_export_model, cmd_settings
from claimstream.cli.stream import cmd_claims, cmd_demo, cmd_ingest, cmd_serve, cmd_tail, cmd_topics, cmd_up
from claimstream.core.logs import configure_logging
from claimstream.core.settings import SERVICES, Settings, SettingsError
from claimstream.core.text import printable

log = logging.getLogger("claimstream")

def build_parser() -> argparse.ArgumentParser:
    settings_flags = argparse.ArgumentParser(add_help=False)
    Settings.add_arguments(settings_flags)
    parser = argparse.ArgumentParser(
        prog="claimstream", description="Streaming NLP pipeline for multilingual news, over Kafka."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace, Settings], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[settings_flags])
        p.set_defaults(func=func)
        return p

    p = command(
        "up", cmd_up, "Embedded broker (unless CLAIMSTREAM_BOOTSTRAP is set) and every service; Ctrl-C stops all."
    )
    p.add_argument("--services", help="comma-separated subset to run (default: all)")
    p = command("serve", cmd_serve, "Run one service, as a container would.")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("--join", action="store_true",
                   help="run beside a running `claimstream up`: use its embedded broker and a free metrics port "
                        "(the worker shares its stage's partitions)")
    p = command("ingest", cmd_ingest, "Send documents (.txt, .jsonl, directories, - for stdin) to the ingest topic.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--dlq", action="store_true",
                   help="also send each rejected line to the ingest topic's DLQ, with its reason (stage `ingest`)")
    p = command("tail", cmd_tail, "Print a topic's messages as JSON lines.")
    p.add_argument("topic")
    p.add_argument("--count", type=int, default=None, help="stop after N messages")
    p.add_argument("--timeout", type=float, default=None, help="stop after S seconds without a message")
    p.add_argument("--from-beginning", action="store_true", help="start at the oldest message")
    p = command("enrich", cmd_enrich, "Run every stage in-process (no Kafka) and write enriched JSON lines.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--out", help="write documents here instead of stdout")
    p.add_argument("--groups", help="write the claim groups of these documents here (JSON lines)")
    p = command("claims", cmd_claims, "The current claim groups and their conflicts, as a table.")
    p.add_argument("--conflicts-only", action="store_true", help="only groups whose values disagree")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.add_argument("--timeout", type=float, default=3.0, help="stop reading after S seconds without a message")
    p = command("build-models", cmd_build_models,
                "Build the e5 encoder and the NER tagger as ONNX from the bundled weights (`make install` runs it; "
                "the stages also build on first load).")
    p.add_argument("--out", default=None, help="cache directory (default: $CLAIMSTREAM_ENCODER_CACHE, "
                   "else ~/.cache/claimstream/encoder)")
    p = command("export-model", cmd_export_model,
                "Convert a Hugging Face translation checkpoint (Marian, M2M100, NLLB) into the ONNX layout "
                "the translate service loads.")
    p.add_argument("src", help="checkpoint directory, or a hub id when the hub is reachable")
    p.add_argument("out", help="output directory (created; must be empty or a previous export)")
    p.add_argument("--dtype", choices=["fp32", "fp16", "int8"], default="fp32")
    from claimstream.cli.deadletters import add_dlq_command

    add_dlq_command(sub, [settings_flags])
    p = command("topics", cmd_topics,
                "Create the pipeline's topics (DLQs included; claims.groups compacted), or describe what the "
                "cluster has: partitions, replication and configuration (describe: exit status 1 if a topic is "
                "missing or configured differently).")
    p.add_argument("action", choices=["create", "describe"])
    p = command("settings", cmd_settings, "Print the effective settings (or the README table with --markdown).")
    p.add_argument("--markdown", action="store_true")
    p = command("demo", cmd_demo, "The whole pipeline on the embedded broker over sample documents, then exit.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="default: examples/ (bad lines are sent too, to show the DLQ)")
    p.add_argument("--timeout", type=float, default=120.0, help="give up after S seconds without output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from claimstream.runtime.lifetime import honour_parent_death

    honour_parent_death()  # a service the launcher started dies with it
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.load(args=args)
    except SettingsError as exc:
        print(printable(f"claimstream: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    # Every line names its writer: the service of `serve`, else the command.
    configure_logging(args.service if args.command == "serve" else args.command, settings.log_level,
                      settings.log_format)
    from claimstream.core.model import ModelLoadError
    from claimstream.kafka.clients import BrokerUnavailable, TopicsMissing
    from claimstream.local.broker import BrokerError
    from claimstream.local.inputs import InputError
    from claimstream.local.launcher import LaunchError

    try:
        code = int(args.func(args, settings))
        sys.stdout.flush()  # here, so a reader that went away is noticed below rather than at exit
        return code
    except BrokenPipeError:
        # The reader of stdout went away (`tail ... | head`): stop quietly, as other Unix tools do.
        # stdout goes to /dev/null so the interpreter's last flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CliError, InputError, BrokerUnavailable, TopicsMissing, BrokerError, ModelLoadError, LaunchError,
            SettingsError) as exc:
        if args.command == "serve":  # a service's stderr is its log (JSON with log_format=json)
            log.error("%s", printable(str(exc)))
        else:
            print(printable(f"claimstream: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
