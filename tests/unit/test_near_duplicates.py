"""Near-duplicate fingerprints: wire copies fold into one story, look-alike stories do not.

Every syndicated copy of every fixture story (`tests/support/syndicate.py` makes them: a
dateline, a footer, typographic quotes, a new headline, a sentence cut, all at once) must
score at least NEAR_THRESHOLD against its original and share a band with it, so the band
lookup finds it and the signature check admits it. Every pair of different fixture stories
must score below it and share no band. LOOKALIKES are harder: pairs of different stories
written for this test about the same event or place in the same words (two outlets on one
Iturup drill, a follow-up that reuses the background paragraph, two press-service releases
from one template, two Kyodo notices of firing drills); they must stay apart.
`python bench/near_duplicates.py` prints the measurements behind the parameters.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.canonical import canonical_url
from storage.fingerprint import (
    BANDS,
    MIN_SHINGLES,
    NEAR_THRESHOLD,
    NUM_PERM,
    ROWS,
    SHINGLE,
    SHINGLE_CJK,
    NearPrint,
    band_hashes,
    near_print,
    shingles,
    similarity,
)
from tests.support.stories import STORIES, FixtureStory
from tests.support.syndicate import (
    STYLES,
    cut_sentence,
    sentences,
    syndicate,
    with_dateline,
    with_footer,
    with_new_headline,
    with_tracking,
    with_typographic_quotes,
)

ROOT = Path(__file__).resolve().parents[2]

LOOKALIKES: tuple[tuple[str, str, str, str], ...] = (
    (
        "two outlets on one Iturup drill",
        "en",
        "Russia's Eastern Military District said on Tuesday that more than 2,000 troops had "
        "begun drills on Iturup, the largest of the southern Kuril Islands, practicing the "
        "defense of the island's coast against a simulated enemy landing. Artillery units and "
        "Tor-M2 air defense systems took part, along with Mi-8 helicopters that ferried troops "
        "to the northern tip of the island, the district said in a statement. Japan, which calls "
        "the island Etorofu and claims it along with three other islands, has repeatedly "
        "protested against Russian military activity there. The drills are scheduled to last "
        "until the end of the week.",
        "More than 2,000 Russian soldiers are taking part in exercises on Iturup, one of the "
        "disputed Kuril Islands, the military said Tuesday. The Eastern Military District said "
        "troops were rehearsing how to repel an amphibious assault on the island's coast, backed "
        "by artillery, Tor-M2 anti-aircraft missile systems and Mi-8 transport helicopters. The "
        "drills will run through the end of the week, it said. Tokyo claims Iturup, which it "
        "calls Etorofu, as part of its Northern Territories and has lodged protests over "
        "previous Russian drills on the islands.",
    ),
    (
        "a follow-up the next day reusing the background paragraph",
        "en",
        "TOKYO — Russia has notified Japan that it will hold live-fire artillery drills in "
        "waters off Kunashir from Monday to Saturday, the Foreign Ministry said on Sunday. The "
        "notice named several zones north of the island and warned ships to stay clear while "
        "the firing was under way. A ministry official said Tokyo was studying the notice.\n\n"
        "The islands, known in Russia as the Southern Kurils and in Japan as the Northern "
        "Territories, were seized by Soviet troops in the final days of World War Two. The "
        "dispute has kept the two countries from signing a peace treaty formally ending the "
        "war.",
        "TOKYO — Japan lodged a protest with Russia on Monday as Russian forces began live-fire "
        "drills in waters off Kunashir, calling the exercises unacceptable. Chief Cabinet "
        "Secretary told reporters the drills ran counter to Japan's position and that the "
        "government had conveyed its objection through diplomatic channels. Fishing crews in "
        "Nemuro were told to avoid the zones for the week.\n\n"
        "The islands, known in Russia as the Southern Kurils and in Japan as the Northern "
        "Territories, were seized by Soviet troops in the final days of World War Two. The "
        "dispute has kept the two countries from signing a peace treaty formally ending the "
        "war.",
    ),
    (
        "two press-service releases from one template (ru)",
        "ru",
        "Артиллеристы общевойсковой армии Восточного военного округа, дислоцированные на "
        "острове Итуруп Курильской гряды, провели учение с боевой стрельбой, сообщила "
        "пресс-служба ВВО. В ходе учения расчеты самоходных гаубиц «Мста-С» уничтожили условные "
        "огневые точки противника на дальности до 15 километров. Всего к учению привлекли "
        "около 300 военнослужащих и более 50 единиц военной и специальной техники.",
        "Расчеты зенитных ракетных комплексов «Тор-М2» Восточного военного округа, "
        "дислоцированные на острове Кунашир Курильской гряды, провели учение с боевой "
        "стрельбой, сообщила пресс-служба ВВО. В ходе учения расчеты отразили удар условного "
        "противника, уничтожив воздушные мишени, имитирующие беспилотники, на высоте до 6 "
        "километров. Всего к учению привлекли около 200 военнослужащих и более 30 единиц "
        "военной и специальной техники.",
    ),
    (
        "two Kyodo notices of firing drills (ja)",
        "ja",
        "ロシア政府が、北方領土の択捉島周辺海域で今月10日から20日までの間、射撃訓練を"
        "実施すると日本政府に通告したことが9日、分かった。日本外務省によると、通告は今月3日"
        "付。同省は同日「北方領土での軍備強化は、日本の立場と相いれず受け入れられない」と"
        "外交ルートを通じて抗議した。ロシアは北方領土周辺での軍事演習を活発化させている。",
        "ロシア政府が、北方領土の国後島と色丹島の周辺海域で来月1日から5日までの間、ミサイル"
        "発射訓練を実施すると日本政府に通告したことが28日、分かった。通告は今月25日付で、"
        "日本外務省は同日、外交ルートを通じて抗議した。同省幹部は「北方領土での軍備強化は、"
        "日本の立場と相いれず受け入れられない」と述べた。訓練は国後島北側の海域で行われる"
        "という。",
    ),
)
"""(what, language, text a, text b): different stories in the same words, kept apart."""


def _print(text: str) -> NearPrint:
    printed = near_print(text)
    assert printed is not None, f"too short to fingerprint: {text[:60]!r}"
    return printed


def _shares_band(a: NearPrint, b: NearPrint) -> bool:
    return any(x == y for x, y in zip(a.bands, b.bands, strict=True))


COPIES = [(story, style) for story in STORIES for style in STYLES]


@pytest.mark.parametrize(
    ("story", "style"), COPIES, ids=[f"{story.key}-{style}" for story, style in COPIES]
)
def test_syndicated_copy_joins_its_original(story: FixtureStory, style: str) -> None:
    original = _print(story.text)
    copy = _print(syndicate(story.title, story.text, style)[1])
    assert similarity(original.signature, copy.signature) >= NEAR_THRESHOLD
    assert _shares_band(original, copy)


@pytest.mark.parametrize("story", STORIES, ids=[story.key for story in STORIES])
def test_any_one_sentence_cut_still_joins(story: FixtureStory) -> None:
    original = _print(story.text)
    for index in range(len(sentences(story.text))):
        copy = _print(cut_sentence(story.text, index))
        assert similarity(original.signature, copy.signature) >= NEAR_THRESHOLD, index
        assert _shares_band(original, copy), index


PAIRS = list(itertools.combinations(STORIES, 2))


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a.key}~{b.key}" for a, b in PAIRS])
def test_different_fixture_stories_stay_apart(a: FixtureStory, b: FixtureStory) -> None:
    print_a, print_b = _print(a.text), _print(b.text)
    assert similarity(print_a.signature, print_b.signature) < NEAR_THRESHOLD
    assert not _shares_band(print_a, print_b)


@pytest.mark.parametrize(("what", "language", "a", "b"), LOOKALIKES, ids=[x[0] for x in LOOKALIKES])
def test_lookalike_stories_stay_apart(what: str, language: str, a: str, b: str) -> None:
    print_a, print_b = _print(a), _print(b)
    assert similarity(print_a.signature, print_b.signature) < NEAR_THRESHOLD, what
    assert not _shares_band(print_a, print_b), what


def test_shapes_follow_the_constants() -> None:
    printed = _print(STORIES[0].text)
    assert len(printed.signature) == NUM_PERM * 4
    assert len(printed.bands) == BANDS
    assert BANDS * ROWS <= NUM_PERM
    assert all(-(2**63) <= band < 2**63 for band in printed.bands)
    assert similarity(printed.signature, printed.signature) == 1.0


def test_equal_rows_in_different_bands_hash_differently() -> None:
    flat = bytes(NUM_PERM * 4)  # every band holds the same rows
    assert len(set(band_hashes(flat))) == BANDS


def test_text_under_min_shingles_has_no_print() -> None:
    words = [f"word{i}" for i in range(MIN_SHINGLES + SHINGLE - 1)]
    assert len(shingles(" ".join(words))) == MIN_SHINGLES
    assert near_print(" ".join(words)) is not None
    assert near_print(" ".join(words[:-1])) is None
    assert near_print("") is None
    assert near_print("Japan protests Russian drills on Etorofu.") is None


def test_japanese_shingles_characters_other_scripts_words() -> None:
    ja = "北方領土で「演習」"
    chars = "北方領土で演習"  # punctuation folded away
    assert shingles(ja) == {
        " ".join(chars[i : i + SHINGLE_CJK]).encode() for i in range(len(chars) - SHINGLE_CJK + 1)
    }
    ru = "Подразделения Восточного военного округа провели учения на Итурупе"
    assert "подразделения восточного военного округа провели".encode() in shingles(ru)
    assert len(shingles(ru)) == len(ru.split()) - SHINGLE + 1
    en = "Japan calls the islands 北方領土 the Northern Territories in its statements"
    assert b"japan calls the islands \xe5\x8c\x97" in shingles(en)  # a Han run in words


def test_similarity_rejects_signatures_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="cannot be compared"):
        similarity(bytes(8), bytes(12))


_DIGEST = (
    "import hashlib\n"
    "from storage.fingerprint import near_print\n"
    "from tests.support.stories import STORIES\n"
    "p = near_print(STORIES[0].text)\n"
    "bands = b''.join(b.to_bytes(8, 'little', signed=True) for b in p.bands)\n"
    "print(hashlib.sha256(p.signature + bands).hexdigest())\n"
)
PINNED_PRINT_SHA256 = "bf6ad20f2879dacc7f2aca12ecaa16ad791ac779b9988638b17c80e1486675f2"
"""sha256 of the first fixture story's print; if it changes, every stored print is stale."""


def test_print_is_the_same_in_any_process_and_release() -> None:
    """Prints are stored: another process, hash seed or datasketch must give the same bytes."""
    digests = {
        subprocess.run(
            [sys.executable, "-c", _DIGEST],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "12345")
    }
    assert digests == {PINNED_PRINT_SHA256}


def test_syndication_helpers() -> None:
    text = 'TOKYO — Japan said "no" to the plan. It was the second refusal.'
    assert with_dateline(text, "Nemuro", "Kyodo").startswith("NEMURO (Kyodo) -- Japan said")
    assert with_footer(text, "Daily").splitlines()[2].startswith("© 2025 Daily")
    assert "“no”" in with_typographic_quotes(text)
    assert cut_sentence(text, 0) == "It was the second refusal."
    assert cut_sentence(text, -1) == 'TOKYO — Japan said "no" to the plan.'
    assert with_new_headline(("Old", text), "New") == ("New", text)
    url = "https://news.example.org/a/b?id=2"
    assert "fbclid=" in with_tracking(url) and "utm_source=" in with_tracking(url)
    assert canonical_url(with_tracking(url)) == canonical_url(url)
    with pytest.raises(ValueError, match="unknown syndication style"):
        syndicate("t", text, "rot13")
