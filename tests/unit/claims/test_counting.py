"""What a number counts, and which number is a claim: composite amounts, counted nouns,
numbers that are no amount, the verb that governs a number, abstention, parts of a total.

Each class of error is tested in several languages and scripts: a rule that fixed one quoted
phrase would fail the others.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from claimstream.claims.extract import find_counted
from claimstream.claims.model import ClaimModel, load
from claimstream.claims.numbers import find_numbers
from claimstream.core.schema import Document
from claimstream.core.settings import Settings


@pytest.mark.parametrize(("text", "lang", "value"), [
    ("8 ارب 26 کروڑ ڈالر", "ur", 8_260_000_000),             # a smaller group after a larger one adds
    ("۸ میلیارد و ۲۶۰ میلیون دلار", "fa", 8_260_000_000),     # ... across an "and"
    ("2 ہزار 3 سو ارب روپے", "ur", 2_300_000_000_000),        # a larger multiplier multiplies it all
    ("पांच हज़ार करोड़ रुपये", "hi", 50_000_000_000),          # number words too
    ("۵ هزار میلیارد ریال", "fa", 5_000_000_000_000),
    ("2 हज़ार 300 करोड़", "hi", 23_000_000_000),
    ("82.6亿美元", "zh", 8_260_000_000),                        # no float noise (8259999999.99)
    ("one million two hundred thousand", "en", 1_200_000),
])
def test_composite_amounts_are_one_number(text: str, lang: str, value: float) -> None:
    (number,) = find_numbers(text, lang)
    assert number.value == value


@pytest.mark.parametrize(("text", "lang", "values"), [
    ("12 million 30 people", "en", [12_000_000, 30]),        # a bare numeral after is another number
    ("3 हज़ार, 5 लाख", "hi", [3000, 500_000]),              # punctuation separates amounts
    ("۱۲ هزار واحد مسکونی", "fa", [12000]),                 # واحد is "unit" here, not "one"
])
def test_separate_numbers_stay_separate(text: str, lang: str, values: list[float]) -> None:
    assert [n.value for n in find_numbers(text, lang)] == values


@pytest.mark.parametrize(("text", "lang", "unit"), [
    ("विभाग ने 24 राहत केंद्र खोले", "hi", "things"),
    ("The Red Cross was running 40 shelters", "en", "things"),
    ("Росія випустила 5 ракет", "uk", "things"),
    ("در ۲۴ مرکز امدادی اسکان یافته‌اند", "fa", "things"),
    ("300所学校停课", "zh", "things"),
    ("waves 20 feet high", "en", "distance"),
    ("в 50 километрах от границы", "ru", "distance"),
    ("حادثہ صبح 9 بجے پیش آیا", "ur", "clock"),
    ("the quake hit at 5:42", "en", "clock"),
    ("its 40th anniversary", "en", "ordinal"),
    ("80-я бригада", "ru", "ordinal"),
    ("80वीं बटालियन", "hi", "ordinal"),
    ("2,000 North Korean soldiers were killed", "en", "troops"),
    ("6.1级地震", "zh", "magnitude"),
    ("500 Millionen Rupien", "de", "inr"),
    ("3.2亿元", "zh", "cny"),
])
def test_the_counted_noun_decides_the_unit(text: str, lang: str, unit: str) -> None:
    number = find_numbers(text, lang)[0]
    assert find_counted(text, number)[0] == unit


def test_a_noun_after_a_preposition_is_not_what_the_number_counts() -> None:
    text = "killed 12 in a school"
    (number,) = find_numbers(text, "en")
    assert find_counted(text, number) == ("", "")


@pytest.fixture(scope="module")
def model() -> ClaimModel:
    return load(Settings(claims_predicate_fallback="off"))


def _claims(model: ClaimModel, text: str, lang: str) -> list[tuple[str, float, str]]:
    doc = Document(id="t", text=text, source="test")
    doc.language.code = lang
    doc.published_at.FromDatetime(datetime(2025, 3, 5, tzinfo=UTC))
    (result,) = model.predict([doc])
    assert isinstance(result, Document)
    return [(c.predicate, c.quantity.value, c.key) for c in result.claims if c.HasField("quantity")]


@pytest.mark.parametrize(("text", "lang", "expected"), [
    # the verb decides, not the nearest noun
    ("At least 2,000 North Korean soldiers were killed, officials said.", "en", [("people_killed", 2000)]),
    ("कम से कम 2,000 उत्तर कोरियाई सैनिक मारे गए।", "hi", [("people_killed", 2000)]),
    # several numbers of a sentence, each with its own verb (SVO and SOV)
    ("The blast killed 30 people and wounded 25.", "en", [("people_killed", 30), ("people_injured", 25)]),
    ("در این انفجار دست‌کم ۲۸ نفر کشته و ۲۵ نفر زخمی شدند.", "fa",
     [("people_killed", 28), ("people_injured", 25)]),
    ("قتل 30 شخصا وأصيب 25 آخرون في الانفجار.", "ar", [("people_killed", 30), ("people_injured", 25)]),
    ("据报道，地震已造成832人死亡，2100多人受伤。", "zh", [("people_killed", 832), ("people_injured", 2100)]),
    # one verb for a total and its parts
    ("At least 10 people — nine pupils and a teacher — died.", "en",
     [("people_killed", 10), ("people_killed", 9)]),
])
def test_each_number_takes_the_verb_that_governs_it(model: ClaimModel, text: str, lang: str,
                                                    expected: list[tuple[str, float]]) -> None:
    assert [(p, v) for p, v, _ in _claims(model, text, lang)] == expected


@pytest.mark.parametrize(("text", "lang"), [
    # counts of things, distances, times, ordinals, ages, indefinite articles
    ("एनडीआरएफ की 12 टीमें तैनात की गई हैं।", "hi"),
    ("یک تیم امدادی نیز به منطقه اعزام شده است.", "fa"),
    ("Russia fired 40 drones at the city, and 35 were shot down.", "en"),
    ("Учения продлятся 5 дней в 50 километрах от границы.", "ru"),
    ("The school celebrated its 40th anniversary.", "en"),
    ("सुपौल में एक पुल बह गया।", "hi"),
    # numbers that count something the vocabulary has no predicate for
    ("1,100 people were rescued by boat.", "en"),
    ("प्रभावित इलाके में करीब 3 लाख लोग रहते हैं।", "hi"),
    ("Спасатели извлекли из-под завалов 310 человек живыми.", "ru"),
    ("یک نظرسنجی مشارکت را ۴۵ درصد پیش‌بینی کرده بود.", "fa"),
    ("ويبلغ حجم التجارة الثنائية نحو 85 مليار دولار سنويا.", "ar"),
    ("Das Wohnhaus hatte neun Stockwerke.", "de"),
])
def test_numbers_outside_the_vocabulary_abstain(model: ClaimModel, text: str, lang: str) -> None:
    assert _claims(model, text, lang) == []


@pytest.mark.parametrize(("text", "lang"), [
    ("Thirty people were hurt, including 12 police officers.", "en"),
    ("وأصيب 30 شخصا بينهم 12 من رجال الشرطة.", "ar"),
    ("48 लोग घायल हुए, जिनमें से 21 की हालत गंभीर है।", "hi"),
    # "among the dead/injured ... are included" in a sentence of its own, after the total (SOV)
    ("बस हादसे में 14 लोगों की मौत हो गई। मृतकों में 5 महिलाएं शामिल हैं।", "hi"),
    ("فیکٹری میں آگ لگنے سے 25 مزدور زخمی ہو گئے۔ زخمیوں میں 4 خواتین بھی شامل ہیں۔", "ur"),
])
def test_a_part_of_a_total_is_its_own_fact(model: ClaimModel, text: str, lang: str) -> None:
    (total, part) = _claims(model, text, lang)
    assert total[1] > part[1]
    assert part[2] == total[2] + "|part"  # same predicate, event and period, marked as a part


@pytest.mark.parametrize(("text", "lang", "rate", "total"), [
    ("The state government announced Rs 4 lakh for the family of each person killed and released Rs 2 crore "
     "for relief.", "en", 400_000, 20_000_000),
    ("राज्य सरकार ने हर मृतक के परिवार को 4 लाख रुपये मुआवज़ा देने की घोषणा की और राहत के लिए 5 करोड़ रुपये जारी किए।", "hi",
     400_000, 50_000_000),
    ("Власти выделят по 100 тысяч рублей на человека, всего на помощь направлено 50 миллионов рублей.", "ru",
     100_000, 50_000_000),
    ("政府向每户受灾家庭发放5000元救助金，共拨付救灾资金2亿元。", "zh", 5000, 200_000_000),
    ("Die Regierung sagte 3 Millionen Euro Soforthilfe zu, jede betroffene Familie erhält 2.000 Euro.", "de",
     2000, 3_000_000),
])
def test_money_per_person_or_family_is_a_rate_of_its_own(model: ClaimModel, text: str, lang: str, rate: float,
                                                          total: float) -> None:
    keys = {value: key for _, value, key in _claims(model, text, lang)}
    assert keys[rate].endswith("|each") and not keys[total].endswith("|each")
    assert keys[rate].removesuffix("|each") == keys[total]  # same predicate, parties and month otherwise


@pytest.mark.parametrize(("text", "lang"), [
    ("The death toll rose to 21 on Tuesday, officials said. On Monday police had reported 16 dead.", "en"),
    ("Число погибших выросло до 21, сообщили власти. Накануне полиция сообщала о 16 погибших.", "ru"),
    ("अधिकारियों के अनुसार मरने वालों की संख्या बढ़कर 21 हो गई। सोमवार को पुलिस ने 16 लोगों की मौत की बात कही थी।", "hi"),
])
def test_a_documents_smaller_figure_of_a_growing_count_is_superseded(model: ClaimModel, text: str, lang: str) -> None:
    doc = Document(id="t", text=text, source="test")
    doc.language.code = lang
    doc.published_at.FromDatetime(datetime(2025, 3, 5, tzinfo=UTC))
    (result,) = model.predict([doc])
    assert isinstance(result, Document)
    killed = {c.quantity.value: c.superseded for c in result.claims if c.predicate == "people_killed"}
    assert killed == {21: False, 16: True}


def test_a_past_event_in_a_factbox_keeps_its_own_year(model: ClaimModel) -> None:
    text = ("The earthquake in Iran killed 832 people. The coast last saw a deadly tsunami in 1945, "
            "when about 4,000 people were killed.")
    (today, past) = _claims(model, text, "en")
    assert today[2].endswith("|2025-03") and past[2].endswith("|1945")


def test_the_month_separates_two_incidents_of_one_year(model: ClaimModel) -> None:
    february = Document(id="a", text="A bomb blast killed 30 people in a market, police said.", source="t")
    september = Document(id="b", text="A bomb blast killed 12 people in a market, police said.", source="t")
    for doc, month in ((february, 2), (september, 9)):
        doc.language.code = "en"
        doc.published_at.FromDatetime(datetime(2025, month, 18, tzinfo=UTC))
    model.predict([february, september])
    assert february.claims[0].key.endswith("|2025-02") and september.claims[0].key.endswith("|2025-09")


@pytest.mark.parametrize(("text", "lang", "unit"), [
    ("پنجاب حکومت نے لواحقین کے لیے 10 لاکھ روپے امداد کا اعلان کیا۔", "ur", "pkr"),
    ("The Indian government announced compensation of 5 lakh rupees for each family.", "en", "inr"),
])
def test_rupees_are_the_currency_of_the_documents_country(model: ClaimModel, text: str, lang: str,
                                                         unit: str) -> None:
    from claimstream.core.schema import Entity

    doc = Document(id="r", text=text, source="test")
    doc.language.code = lang
    doc.published_at.FromDatetime(datetime(2025, 3, 5, tzinfo=UTC))
    place = "پنجاب" if lang == "ur" else "Indian"
    start = text.find(place)
    cid = "subdivision:PK-PB" if lang == "ur" else "country:IN"
    doc.entities.append(Entity(text=place, label="GPE", start=start, end=start + len(place), canonical_id=cid,
                               canonical_name="Punjab" if lang == "ur" else "India", found_in=Entity.SOURCE_TEXT))
    (result,) = model.predict([doc])
    assert isinstance(result, Document)
    (claim,) = result.claims
    assert claim.predicate == "aid_pledged" and claim.quantity.unit == unit


@pytest.mark.parametrize(("text", "lang"), [
    ("At least 2,000 North Korean soldiers were killed, officials said.", "en"),
    ("कम से कम 2,000 उत्तर कोरियाई सैनिक मारे गए।", "hi"),
])
def test_a_toll_of_soldiers_is_its_own_fact(model: ClaimModel, text: str, lang: str) -> None:
    ((predicate, _, key),) = _claims(model, text, lang)
    assert predicate == "people_killed" and key.endswith("|troops")
