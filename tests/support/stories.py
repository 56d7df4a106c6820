"""Fixture news stories, written for these tests, with the verdict each one should get.

Every text here is invented wire-style news: no real article, and nothing from
`../shared/eval` or `../shared/corpora`, is copied. Each story says whether it is about the
watched topic (the Kuril Islands dispute) and which events (`"protest"`, `"exercise"`) it
reports, so the same stories drive rule tests, the local news site and end-to-end tests.

The positives cover the three languages the topic gate reads; the negatives are the noise
that DESIGN.md names (an earthquake near the Kurils, Kurile Lake in Kamchatka, a labor rally
in Tokyo, US-Japan drills off Okinawa) plus an on-topic story with no event in it.
Nothing here touches the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EVENTS = frozenset({"protest", "exercise"})
"""The event types a story can report."""

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。！？]")


@dataclass(frozen=True, slots=True, kw_only=True)
class FixtureStory:
    """One invented news story and the verdict the rules should give it.

    Attributes:
        key: A short stable name, also the default URL slug.
        title: The headline.
        paragraphs: The body, one string per paragraph.
        language: ISO 639-1 code: "en", "ja" or "ru".
        expect_topic: Whether the story is about the watched topic (the Kuril dispute).
        expect_events: The events the story reports; empty for every negative.
    """

    key: str
    title: str
    paragraphs: tuple[str, ...]
    language: str
    expect_topic: bool
    expect_events: frozenset[str]

    def __post_init__(self) -> None:
        """Reject fixtures that contradict themselves.

        Raises:
            ValueError: If there are no paragraphs, an unknown event, or events off topic.
        """
        if not self.paragraphs:
            raise ValueError(f"story {self.key!r} has no paragraphs")
        if not self.expect_events <= EVENTS:
            raise ValueError(f"story {self.key!r} has unknown events {self.expect_events}")
        if self.expect_events and not self.expect_topic:
            raise ValueError(f"story {self.key!r} reports events but is off topic")

    @property
    def text(self) -> str:
        """The body as plain text, paragraphs separated by a blank line."""
        return "\n\n".join(self.paragraphs)

    @property
    def lead(self) -> str:
        """The first sentence of the first paragraph (what a feed gives as description)."""
        first = self.paragraphs[0]
        end = _SENTENCE_END.search(first)
        return first[: end.end()] if end else first


_NONE: frozenset[str] = frozenset()

STORIES: tuple[FixtureStory, ...] = (
    FixtureStory(
        key="etorofu-drill-protest",
        title="Japan protests Russian military drills on disputed Etorofu island",
        language="en",
        expect_topic=True,
        expect_events=frozenset({"protest", "exercise"}),
        paragraphs=(
            "TOKYO — Japan lodged a formal protest with Russia on Wednesday after Russian "
            "forces held military drills on Etorofu, one of four islands off Hokkaido that "
            "Moscow controls and calls Iturup but Tokyo claims as its own.",
            "A senior Foreign Ministry official conveyed the protest to a minister at the "
            "Russian Embassy in Tokyo, calling the exercises unacceptable and contrary to "
            "Japan's position on the Northern Territories, a ministry spokesperson said.",
            "According to Russia's Eastern Military District, more than 1,500 troops took part "
            "in the drills, which included live-fire artillery practice, an airborne landing "
            "and the deployment of armored vehicles near the island's main airfield.",
            "The islands, known in Russia as the Southern Kurils, were seized by Soviet troops "
            "in the final days of World War Two. The dispute has kept the two countries from "
            "signing a peace treaty formally ending the war.",
            "Moscow has repeatedly dismissed Tokyo's complaints, saying the military activity "
            "takes place on Russian territory. Relations between the neighbors have worsened "
            "since Japan joined Western sanctions over the war in Ukraine.",
        ),
    ),
    FixtureStory(
        key="kunashir-bastion",
        title="Russia deploys Bastion coastal missile systems on Kunashir",
        language="en",
        expect_topic=True,
        expect_events=frozenset({"exercise"}),
        paragraphs=(
            "MOSCOW — Russia has deployed Bastion coastal defense missile systems on Kunashir, "
            "the southernmost of the Kuril Islands, the Pacific Fleet said on Monday, "
            "strengthening its military presence within sight of northern Japan.",
            "The launchers, which fire supersonic anti-ship cruise missiles with a range of "
            "about 300 kilometers, were shipped to the island and set up at new positions, the "
            "fleet said in a statement. Crews then practiced bringing the systems to combat "
            "readiness and simulated strikes on enemy ships in the surrounding waters.",
            "The defense ministry in Moscow said the deployment was part of a plan to "
            "reinforce the Kuril chain, which separates the Sea of Okhotsk from the Pacific.",
            "In Tokyo, the government's top spokesman told a regular news conference that "
            "officials were aware of the reports and were gathering information, adding that "
            "Japan would keep watching Russian military activity in the region. He declined "
            "to say what steps Tokyo might take.",
            "Japan claims Kunashir, which it calls Kunashiri, as part of its Northern Territories.",
        ),
    ),
    FixtureStory(
        key="nemuro-rally",
        title="Rally in Nemuro demands return of the Northern Territories",
        language="en",
        expect_topic=True,
        expect_events=frozenset({"protest"}),
        paragraphs=(
            "NEMURO, Japan — Hundreds of people marched through the eastern Hokkaido city of "
            "Nemuro on Sunday, demanding that Russia return four islands seized by Soviet "
            "forces at the end of World War Two.",
            "Former residents of the islands, many now in their eighties, led the "
            'demonstration, holding banners reading "Return the Northern Territories" as they '
            "walked to Cape Nosappu, the point of Japan's main islands closest to the chain.",
            "\"I was born on Shikotan and I want to visit my parents' graves while I still "
            'can," said an 87-year-old former islander who joined the march. Visa-free visits '
            "by former residents have been suspended since 2022.",
            "The organizers, an association of former residents and the city government, "
            "adopted a resolution urging Tokyo to keep pressing Moscow for the return of "
            "Etorofu, Kunashiri, Shikotan and the Habomai islets.",
            "Russia, which calls the islands the Southern Kurils, says they became its "
            "territory lawfully as a result of the war.",
        ),
    ),
    FixtureStory(
        key="ja-drill-protest",
        title="北方領土での軍事演習に日本政府が抗議",
        language="ja",
        expect_topic=True,
        expect_events=frozenset({"protest", "exercise"}),
        paragraphs=(
            "政府は、ロシア軍が北方領土の択捉島と国後島で軍事演習を実施したとして、"
            "外交ルートを通じてロシア側に抗議した。",
            "外務省によると、ロシア東部軍管区は兵士千人以上を動員し、装甲車や火砲を使った"
            "射撃訓練のほか、上陸作戦の訓練も行った。ロシア国防省は、島の防衛態勢を点検する"
            "ための定例の演習だと説明している。",
            "外務省の担当課長は在日ロシア大使館の公使に対し、演習は北方領土に関する日本の"
            "立場と相いれず、受け入れられないと伝えた。",
            "官房長官は記者会見で「北方領土でロシアが軍備を強化していることは遺憾だ」と述べ、"
            "今後もロシア軍の動向を注視していく考えを示した。",
            "北方四島は第二次世界大戦末期に旧ソ連軍に占領され、日ロ両国はいまも平和条約を"
            "結んでいない。ロシアのウクライナ侵攻以降、両国の関係は冷え込んだままで、"
            "元島民らによる墓参も途絶えている。",
        ),
    ),
    FixtureStory(
        key="ru-iturup-exercise",
        title="Учения на Курилах: войска ВВО отработали оборону Итурупа",
        language="ru",
        expect_topic=True,
        expect_events=frozenset({"exercise"}),
        paragraphs=(
            "Подразделения Восточного военного округа провели тактические учения на острове "
            "Итуруп Курильской гряды, сообщила пресс-служба округа.",
            "В маневрах участвовали более тысячи военнослужащих и около двухсот единиц военной "
            "и специальной техники, в том числе танки и реактивные системы залпового огня "
            "«Град». Военные отработали отражение морского десанта условного противника и "
            "уничтожение его огневых средств на побережье.",
            "Одновременно расчеты зенитных ракетных комплексов «Тор-М2» тренировались "
            "обнаруживать и поражать воздушные цели, имитирующие удары авиации и беспилотников.",
            "К маневрам привлекли и экипажи вертолетов Ми-8, которые высаживали десант на "
            "северной оконечности острова. Учения проходят в рамках плана боевой подготовки на "
            "летний период обучения и продлятся до конца недели, уточнили в округе. После их "
            "завершения техника вернется в пункты постоянной дислокации.",
            "Итуруп — крупнейший остров Южных Курил. Япония претендует на него и еще на три "
            "острова, называя их своими «северными территориями».",
        ),
    ),
    FixtureStory(
        key="kuril-earthquake",
        title="Magnitude 6.0 earthquake strikes near Kuril Islands, tsunami advisory issued",
        language="en",
        expect_topic=True,
        expect_events=_NONE,
        paragraphs=(
            "A magnitude 6.0 earthquake struck off the Kuril Islands early on Friday, prompting "
            "a tsunami advisory for parts of Hokkaido's Pacific coast, the Japan Meteorological "
            "Agency said.",
            "The quake hit at a depth of about 40 kilometers, roughly 100 kilometers east of "
            "Etorofu, according to the agency. Shaking of 4 on Japan's seven-point intensity "
            "scale was recorded in the city of Nemuro.",
            "Residents of coastal areas were told to stay away from the sea. Waves of up to 30 "
            "centimeters were observed at Hanasaki port about an hour after the quake, and the "
            "advisory was lifted by midday.",
            "In Russia, the emergencies ministry for the Sakhalin region said there were no "
            "reports of damage or injuries in Kurilsk and other settlements on the islands, "
            "where some residents moved to higher ground as a precaution.",
            "The Kuril Islands lie on the Pacific Ring of Fire, where strong earthquakes are "
            "common.",
        ),
    ),
    FixtureStory(
        key="kurile-lake-salmon",
        title="Record sockeye run returns to Kamchatka's Kurile Lake",
        language="en",
        expect_topic=False,
        expect_events=_NONE,
        paragraphs=(
            "PETROPAVLOVSK-KAMCHATSKY — Scientists counting sockeye salmon at Kurile Lake in "
            "southern Kamchatka say this year's run is among the largest on record, with more "
            "than four million fish passing the counting fence on the Ozernaya River.",
            "The lake, which fills a volcanic caldera inside the South Kamchatka nature "
            "reserve, is the largest sockeye spawning ground in Asia. Its shores draw dozens "
            "of brown bears each summer, which feed on the fish as they crowd into shallow "
            "streams.",
            "Researchers from the regional branch of the federal fisheries institute said cool "
            "ocean temperatures in the North Pacific had probably helped young salmon survive "
            "their first winter at sea.",
            "Commercial crews at the mouth of the Ozernaya were allowed to raise their catch "
            "after the count showed that enough fish had reached the lake to spawn, regional "
            "officials said.",
            "Tourists reach the lake mainly by helicopter, and visits are limited to protect "
            "the bears and the spawning grounds.",
        ),
    ),
    FixtureStory(
        key="tokyo-wage-rally",
        title="Thousands rally in Tokyo for higher wages as prices climb",
        language="en",
        expect_topic=False,
        expect_events=_NONE,
        paragraphs=(
            "TOKYO — Thousands of workers rallied in central Tokyo on Saturday to demand pay "
            "rises that keep pace with inflation, as unions prepare for next year's spring "
            "wage talks.",
            "Protesters carrying union flags and placards filled Hibiya Park before marching "
            "past government ministries and the headquarters of the main business lobby, "
            "chanting slogans for a higher minimum wage and an end to unpaid overtime.",
            '"Rice, electricity and rent keep going up, but my pay has barely moved in ten '
            'years," said a 41-year-old care worker who joined the demonstration with '
            "colleagues.",
            "The national labor federation that organized the protest is seeking raises of at "
            "least 5 percent for member unions and more for workers at small firms, which have "
            "struggled to pass higher costs on to customers.",
            "Real wages in Japan have fallen in most months of the past three years, according "
            "to government data.",
        ),
    ),
    FixtureStory(
        key="okinawa-joint-drills",
        title="US and Japanese forces hold joint drills off Okinawa",
        language="en",
        expect_topic=False,
        expect_events=_NONE,
        paragraphs=(
            "NAHA, Japan — Japanese and US forces began a week of joint drills in the waters "
            "and airspace off Okinawa on Tuesday, practicing the defense of remote islands in "
            "the East China Sea, Japan's Joint Staff said.",
            "About 6,000 personnel, more than 20 warships and dozens of aircraft are taking "
            "part in the exercise, which includes amphibious landings on an uninhabited island "
            "and air defense training against simulated missile attacks.",
            "US Marines based on Okinawa and Japan's Amphibious Rapid Deployment Brigade will "
            "also rehearse evacuating residents from smaller islands of the Nansei chain in an "
            "emergency.",
            "The drills come as China steps up naval and air activity near Taiwan and around "
            "Japan's southwestern islands. Beijing's defense ministry said the allies were "
            "raising tensions in the region.",
            "Officials in Okinawa, which hosts most US military facilities in Japan, asked that "
            "the exercise avoid flights over residential areas at night.",
        ),
    ),
    FixtureStory(
        key="fisheries-talks",
        title="Japan and Russia agree fishing terms near disputed islands after delay",
        language="en",
        expect_topic=True,
        expect_events=_NONE,
        paragraphs=(
            "TOKYO — Japan and Russia have agreed on terms allowing Japanese boats to fish for "
            "pollock and octopus near the disputed islands off Hokkaido, Japan's Fisheries "
            "Agency said on Thursday, after talks that had stalled for months.",
            "Under the yearly framework, boats from Hokkaido fish in waters near the Southern "
            "Kurils, which Japan calls the Northern Territories, in return for cooperation fees "
            "and equipment provided to the Sakhalin regional government.",
            "This year's deal keeps the pollock quota at about 2,000 tonnes, unchanged from "
            "last year, and lets the season run until the end of December, officials said.",
            'Fishermen in Nemuro and Rausu welcomed the agreement. "We were worried we would '
            'lose the whole season," said the head of a local fishing cooperative.',
            "The talks were held by video link, and both sides said the arrangement did not "
            "affect their positions on sovereignty over the islands.",
        ),
    ),
)
"""Every fixture story: five that report events, five that must not raise an alert."""

_BY_KEY = {story.key: story for story in STORIES}


def story_by_key(key: str) -> FixtureStory:
    """Return the fixture story with this key.

    Args:
        key: The story's `key`, e.g. "etorofu-drill-protest".

    Returns:
        The story.

    Raises:
        KeyError: If no story has this key; the message lists the keys there are.
    """
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no fixture story {key!r}; known: {', '.join(_BY_KEY)}") from None
