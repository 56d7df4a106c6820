"""Invented press releases published as PDF files, with the verdict each should get.

Written for these tests in the manner of the releases a defence ministry or a joint staff
posts as PDFs (the Japanese ones after the Joint Staff's "ロシア海軍艦艇の動向について"
notices); no real release is copied. `release_pdf` renders one with `tests.support.pdfs`.
Nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tests.support.pdfs import render_pdf

JST = timezone(timedelta(hours=9))


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    """One invented release: its lines, metadata title and the events it should alert on."""

    key: str
    language: str
    title: str
    lines: tuple[str, ...]
    events: frozenset[str]
    metadata_title: bool = True
    """Whether the file's metadata names the title (else the first line must serve)."""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


RELEASES: tuple[Release, ...] = (
    Release(
        key="ja-js-frigates-kunashiri",
        language="ja",
        title="ロシア海軍艦艇の動向について",
        lines=(
            "ロシア海軍艦艇の動向について",
            "統合幕僚監部",
            "1 情報期間等",
            "3月11日（水）午前9時頃から同日午後4時頃までの間",
            "2 確認した内容",
            "北海道の根室半島の東約40kmの海域において、ロシア海軍ステレグシチー級フリゲート"
            "2隻が、国後島及び択捉島周辺の海域で射撃訓練を含む演習を実施しているのを確認した。",
            "3 自衛隊の対応",
            "海上自衛隊第2航空群所属「P-3C」（八戸）が警戒監視・情報収集を行った。",
        ),
        events=frozenset({"exercise"}),
    ),
    Release(
        key="ja-js-landing-etorofu",
        language="ja",
        title="北方領土におけるロシア軍の演習について",
        lines=(
            "北方領土におけるロシア軍の演習について",
            "防衛省",
            "ロシア東部軍管区は、択捉島において地対艦ミサイル部隊による上陸阻止演習を"
            "実施したと発表した。",
            "演習には約500人の兵員と装甲車両が参加し、防衛省は引き続き警戒監視に万全を期す。",
        ),
        events=frozenset({"exercise"}),
        metadata_title=False,
    ),
    Release(
        key="ja-js-soya-transit",
        language="ja",
        title="ロシア海軍艦艇の動向について（宗谷海峡）",
        lines=(
            "ロシア海軍艦艇の動向について（宗谷海峡）",
            "統合幕僚監部",
            "3月10日（火）午後、北海道の宗谷岬の北東約50kmの海域を西進するロシア海軍の"
            "ウダロイI級駆逐艦1隻を確認した。その後、同艦は宗谷海峡を西進し、日本海へ向けて"
            "航行した。",
            "海上自衛隊第2航空群所属「P-3C」（八戸）が警戒監視・情報収集を行った。",
        ),
        events=frozenset(),
    ),
    Release(
        key="en-mod-iturup-live-fire",
        language="en",
        title="Russian Navy live-fire exercise near Etorofu Island",
        lines=(
            "Russian Navy live-fire exercise near Etorofu Island",
            "Joint Staff Press Release",
            "On 11 March, two Russian Navy frigates of the Pacific Fleet conducted a live-fire",
            "exercise in waters near Etorofu Island in the southern Kuril Islands.",
            "A P-3C patrol aircraft of the Japan Maritime Self-Defense Force monitored the",
            "ships. The Ministry of Defense will continue surveillance in the area.",
        ),
        events=frozenset({"exercise"}),
    ),
    Release(
        key="en-mod-budget-briefing",
        language="en",
        title="Outline of the Defense Minister's press conference",
        lines=(
            "Outline of the Defense Minister's press conference",
            "The Minister explained the budget request for the next fiscal year, which funds",
            "new patrol aircraft, pay rises for personnel and repairs to housing at bases in",
            "Kyushu. Questions from reporters concerned procurement schedules and recruiting.",
        ),
        events=frozenset(),
    ),
    Release(
        key="ru-vvo-kurils-drill",
        language="ru",
        title="Учения мотострелков на Курильских островах",
        lines=(
            "Учения мотострелков на Курильских островах",
            "Пресс-служба Восточного военного округа",
            "Мотострелковые подразделения, дислоцированные на острове Итуруп Курильской",
            "гряды, провели тактические учения по отражению высадки морского десанта.",
            "В учениях задействовано более 300 военнослужащих и около 50 единиц техники.",
        ),
        events=frozenset({"exercise"}),
    ),
    Release(
        key="ru-tof-concert",
        language="ru",
        title="Концерт оркестра Тихоокеанского флота во Владивостоке",
        lines=(
            "Концерт оркестра Тихоокеанского флота во Владивостоке",
            "Оркестр штаба Тихоокеанского флота дал праздничный концерт в Доме офицеров",
            "флота во Владивостоке. На концерте прозвучали морские песни и марши.",
        ),
        events=frozenset(),
    ),
)


def release_by_key(key: str) -> Release:
    """The release named `key`."""
    return next(release for release in RELEASES if release.key == key)


def release_pdf(release: Release, *, created: datetime | None = None) -> bytes:
    """The release as a one-page PDF, created at `created` (default: now, Tokyo time)."""
    return render_pdf(
        [release.lines],
        title=release.title if release.metadata_title else None,
        created=created or datetime.now(JST).replace(microsecond=0),
    )
