"""Language codes: langid's ISO 639-1/3 codes -> the codes NLLB-200 and M2M100 use.

langid writes ISO 639-1 where one exists (`hi`, `fa`, `zh`) and the script
(`Deva`, `Arab`, `Hant`). NLLB-200 names a language by FLORES-200 code
(`hin_Deva`, `pes_Arab`); M2M100 by a two-letter code in `__hi__` tokens.
"""

from __future__ import annotations

# ISO 639-1 (or -3 where langid has no 639-1) -> FLORES-200 code of the variety
# news in that language is usually written in. Macrolanguages map to the member
# NLLB was trained on (fa -> Western Persian, ar -> Modern Standard Arabic, ...).
NLLB_CODES: dict[str, str] = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "as": "asm_Beng", "az": "azj_Latn",
    "be": "bel_Cyrl", "bg": "bul_Cyrl", "bn": "ben_Beng", "bo": "bod_Tibt", "bs": "bos_Latn",
    "ca": "cat_Latn", "ckb": "ckb_Arab", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn",
    "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "eo": "epo_Latn", "es": "spa_Latn",
    "et": "est_Latn", "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fil": "tgl_Latn",
    "fr": "fra_Latn", "ga": "gle_Latn", "gd": "gla_Latn", "gl": "glg_Latn", "gu": "guj_Gujr",
    "ha": "hau_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "ht": "hat_Latn",
    "hu": "hun_Latn", "hy": "hye_Armn", "id": "ind_Latn", "ig": "ibo_Latn", "is": "isl_Latn",
    "it": "ita_Latn", "ja": "jpn_Jpan", "jv": "jav_Latn", "ka": "kat_Geor", "kk": "kaz_Cyrl",
    "km": "khm_Khmr", "kn": "kan_Knda", "ko": "kor_Hang", "ku": "kmr_Latn", "ky": "kir_Cyrl",
    "lb": "ltz_Latn", "lo": "lao_Laoo", "lt": "lit_Latn", "lv": "lvs_Latn", "mg": "plt_Latn",
    "mk": "mkd_Cyrl", "ml": "mal_Mlym", "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn",
    "mt": "mlt_Latn", "my": "mya_Mymr", "nb": "nob_Latn", "ne": "npi_Deva", "nl": "nld_Latn",
    "nn": "nno_Latn", "no": "nob_Latn", "ny": "nya_Latn", "or": "ory_Orya", "pa": "pan_Guru",
    "pl": "pol_Latn", "ps": "pbt_Arab", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl",
    "rw": "kin_Latn", "sd": "snd_Arab", "si": "sin_Sinh", "sk": "slk_Latn", "sl": "slv_Latn",
    "sn": "sna_Latn", "so": "som_Latn", "sq": "als_Latn", "sr": "srp_Cyrl", "su": "sun_Latn",
    "sv": "swe_Latn", "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu", "tg": "tgk_Cyrl",
    "th": "tha_Thai", "ti": "tir_Ethi", "tk": "tuk_Latn", "tl": "tgl_Latn", "tr": "tur_Latn",
    "tt": "tat_Cyrl", "ug": "uig_Arab", "uk": "ukr_Cyrl", "ur": "urd_Arab", "uz": "uzn_Latn",
    "vi": "vie_Latn", "wo": "wol_Latn", "xh": "xho_Latn", "yi": "ydd_Hebr", "yo": "yor_Latn",
    "zh": "zho_Hans", "zu": "zul_Latn",
}

# Where the script langid reports picks a different NLLB variety.
NLLB_SCRIPT_VARIANTS: dict[tuple[str, str], str] = {
    ("zh", "Hant"): "zho_Hant",
    ("pa", "Arab"): "pnb_Arab",
    ("ks", "Deva"): "kas_Deva",
    ("ks", "Arab"): "kas_Arab",
}

# M2M100 uses ISO 639-1 codes, with these exceptions.
M2M100_ALIASES: dict[str, str] = {"nb": "no", "fil": "tl"}


def nllb_code(lang: str, script: str = "") -> str | None:
    """FLORES-200 code NLLB-200 uses for a langid language (and script), or None when unknown."""
    lang = lang.lower()
    if (lang, script) in NLLB_SCRIPT_VARIANTS:
        return NLLB_SCRIPT_VARIANTS[(lang, script)]
    if "_" in lang:  # already a FLORES-200 code, e.g. from a lang_hint
        return lang[:3] + "_" + lang[4:].capitalize()
    return NLLB_CODES.get(lang)


def m2m100_code(lang: str) -> str:
    """The code M2M100 uses for a langid language (its `__xx__` token without underscores)."""
    lang = lang.lower()
    return M2M100_ALIASES.get(lang, lang)


def model_language_code(architecture: str, lang: str, script: str = "") -> str | None:
    """The language code a model of `architecture` uses for `lang`; None when it has none.

    Marian models are one source language each and take no language token: the code is
    returned unchanged.
    """
    if architecture == "nllb":
        return nllb_code(lang, script)
    if architecture == "m2m100":
        return m2m100_code(lang)
    return lang
