"""Shared fixtures of the ner tests: the shipped KB's gazetteer and a loaded model (built once per session)."""

from __future__ import annotations

import pytest
from claimstream.core.settings import Settings
from claimstream.ner.gazetteer import Gazetteer, load_gazetteer
from claimstream.ner.kb import kb_paths
from claimstream.ner.model import EntityModel, load, load_spacy
from claimstream.ner.transformer import TransformerTagger


@pytest.fixture(scope="session")
def gazetteer(tmp_path_factory: pytest.TempPathFactory) -> Gazetteer:
    return load_gazetteer(kb_paths(""), cache_dir=tmp_path_factory.mktemp("ner-cache"))


@pytest.fixture(scope="session")
def spacy_nlp():  # a spaCy Language
    return load_spacy(Settings().ner_spacy_model)


@pytest.fixture(scope="session")
def transformer() -> TransformerTagger:
    return TransformerTagger()


@pytest.fixture(scope="session")
def ner_model(gazetteer: Gazetteer, spacy_nlp, transformer: TransformerTagger) -> EntityModel:
    """The stage's recognizers (the shipped e5 tagger, spaCy, the gazetteer) over the test's KB cache."""
    return EntityModel(gazetteer, spacy_nlp, transformer=transformer)


@pytest.fixture(scope="session")
def loaded_model() -> EntityModel:
    """The model exactly as services get it, from default settings."""
    return load(Settings())
