"""Generated news stories for the chaos soak: distinct alerting stories and their syndicated copies.

Every text is made here from our own templates (invented wire-style English about Russian
drills on the Kuril Islands, Japan's protests over them, and rallies for the islands'
return); nothing is copied from a publisher or from `../shared`. Each story draws its
sentences from several variants and fills them with invented names, numbers, units and
places, so that two stories share few five-word shingles (they never fold into one story),
while the copies of one story, made by `tests.support.syndicate` (a dateline, a footer,
curled quotes, a new headline, a cut last sentence, all of them at once), stay
near-duplicates of it. The last paragraph is always background, so a copy that cuts the last
sentence keeps every sentence the rules quote. Pure and deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.support.stories import FixtureStory
from tests.support.syndicate import syndicate


def _names(words: str) -> tuple[str, ...]:
    return tuple(words.split())


ISLANDS = (
    ("Etorofu", "the largest of the four islands Japan claims, which Russia calls Iturup"),
    ("Kunashiri", "the island Russia calls Kunashir, visible from Hokkaido's Shiretoko coast"),
    ("Shikotan", "one of the four disputed islands off Hokkaido's eastern tip"),
    ("Iturup", "the largest of the southern Kuril Islands, claimed by Japan as Etorofu"),
    ("Kunashir", "the southernmost of the Kuril Islands, claimed by Japan as Kunashiri"),
    ("Matua", "a small island in the middle of the Kuril chain with a disused airfield"),
    ("Paramushir", "an island at the northern end of the Kuril chain near Kamchatka"),
)
JA_SURNAMES = _names(
    "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida "
    "Yamada Sasaki Yamaguchi Matsumoto Inoue Kimura Shimizu Hayashi Saito Yamazaki Mori "
    "Ikeda Hashimoto Abe Ishikawa Ogawa Okada Hasegawa Fujita Goto Kondo Murakami Endo "
    "Aoki Sakamoto Fujii Nishimura Fukuda Ota Miura Okamoto Matsuda Nakagawa Harada Ono"
)
JA_GIVEN = _names(
    "Kenji Hiroshi Takeshi Yuko Akiko Naoki Satoshi Emi Haruka Daisuke Kazuo Megumi Shota "
    "Rie Tomoko Yusuke Keiko Masato Ayumi Koji Noriko Junichi Mayumi Ryo Sachiko Tetsuya"
)
RU_SURNAMES = _names(
    "Ivanov Smirnov Kuznetsov Popov Vasiliev Petrov Sokolov Mikhailov Novikov Fedorov "
    "Morozov Volkov Alekseev Lebedev Semenov Egorov Pavlov Kozlov Stepanov Nikolaev Orlov "
    "Andreev Makarov Nikitin Zakharov Zaitsev Soloviev Borisov Yakovlev Grigoriev Romanov "
    "Vorobiev Sergeev Frolov Alexandrov Dmitriev Korolev Gusev Kiselev Ilyin Maksimov"
)
RU_GIVEN = _names(
    "Sergei Andrei Dmitry Alexei Igor Oleg Pavel Viktor Yuri Nikolai Maxim Roman Artem "
    "Vladimir Konstantin Mikhail Gennady Boris Stanislav Evgeny Anatoly Denis Ruslan"
)
WEEKDAYS = _names("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
DRILLS = (
    "tactical",
    "live-fire",
    "anti-landing",
    "coastal defense",
    "air defense",
    "amphibious",
    "artillery",
    "snap combat readiness",
)
SYSTEMS = (
    ("Bastion", "coastal missile launchers"),
    ("Bal", "anti-ship missile batteries"),
    ("Tor-M2", "short-range air defense systems"),
    ("S-300V4", "long-range air defense batteries"),
    ("Grad", "multiple rocket launchers"),
    ("Pantsir", "gun and missile air defense vehicles"),
    ("Msta", "self-propelled howitzers"),
)
UNITS = (
    "machine gun and artillery division",
    "motor rifle brigade",
    "coastal missile brigade",
    "air defense regiment",
    "naval infantry battalion",
    "engineer company",
    "reconnaissance battalion",
    "helicopter squadron",
)
ACTIONS = (
    "repelling a landing by a mock enemy on the island's northern beaches",
    "striking simulated enemy ships in the strait",
    "moving launchers to reserve positions under cover of darkness",
    "shooting down drones imitating an air raid on the harbour",
    "laying minefields along the approaches to the airfield",
    "carrying wounded soldiers by helicopter from a coastal outpost",
    "defending the port against saboteurs landed from small boats",
    "setting up field command posts in the hills above the bay",
    "firing at targets towed by a patrol ship off the cape",
    "crossing the island's rivers on pontoon bridges built overnight",
)
PLACES = (
    "Kurilsk",
    "Yuzhno-Kurilsk",
    "Malokurilskoye",
    "Severo-Kurilsk",
    "Reidovo",
    "Goryachiye Klyuchi",
    "Krabozavodskoye",
    "Golovnino",
)
TOWNS = ("Nemuro", "Sapporo", "Kushiro", "Shibetsu", "Rausu", "Betsukai", "Tokyo", "Hakodate")
OCCUPATIONS = (
    "fisherman",
    "retired teacher",
    "kelp farmer",
    "city council member",
    "shopkeeper",
    "former islander",
    "ferry worker",
    "high school student",
)
WEATHER = ("dense fog", "driving rain", "light snow", "strong winds", "clear skies", "drizzle")
BACKGROUND = (
    "Soviet troops seized the islands in the last days of World War Two, and the dispute "
    "has kept Tokyo and Moscow from signing a peace treaty.",
    "About {n} Russians live on the southern islands, most of them in fishing and fish "
    "processing, according to regional officials in {place}.",
    "Visa-free visits by former Japanese residents to the islands have been suspended since "
    "{year}, and talks on joint economic activity there have stalled.",
    "Japan calls the islands its Northern Territories and says they are illegally occupied; "
    "Russia says they became its territory lawfully after the war.",
    "The waters around the chain are rich fishing grounds, and Japanese boats catching "
    "kelp off {island} pay Russia a fee under an agreement renewed in {year}.",
    "Relations between the neighbors have soured since Tokyo joined Western sanctions on "
    "Moscow, and Russia has since expanded its garrison on the chain.",
    "The sea between the islands and Hokkaido is about {km} kilometers wide at its narrowest "
    "point, and the lights of {place} can be seen from the Japanese coast on a clear night.",
    "Local officials in {place} said a new school and a clinic were built there last year "
    "with money from a federal programme for the Kurils worth {n} million rubles.",
    "A ferry from Korsakov calls at {place} {k} times a month in summer, weather permitting, "
    "and the trip takes about {h} hours.",
    "Japan's government marks Northern Territories Day each February, and a museum in Nemuro "
    "about the islands received {n} visitors last year.",
    "Russia opened a duty-free zone on the southern islands in {year} to draw investors, "
    "though officials in {place} say few foreign companies have come.",
    "Fishermen from Hokkaido say patrol boats stopped {k} Japanese vessels near {island} "
    "last season, more than in any year since {year}.",
)
QUOTES = (
    "We want the next generation to remember these islands",
    "Nothing will change unless Tokyo talks to Moscow directly",
    "My father fished those waters every summer until the war",
    "Every year there are fewer of us left to tell the story",
    "The young people here hardly know where the islands are",
    "We only ask to be allowed to visit the graves again",
    "The government must not give up on the return of the islands",
    "I still remember the smell of the kelp drying on the beach",
)


@dataclass(frozen=True, slots=True)
class ChaosStory:
    """One generated story and its copies: `copies[0]` is the original, the others are
    syndicated versions for other outlets (`styles` names how each was made)."""

    key: str
    event: str
    """What it reports: "exercise", "protest" (a diplomatic protest over drills, so both
    events) or "rally" (a demonstration for the islands' return: a protest)."""
    copies: tuple[FixtureStory, ...]
    styles: tuple[str, ...]


SYNDICATION = ("dateline", "footer", "typographic_quotes", "new_headline", "cut_last_sentence")


def generate(count: int, seed: int) -> list[ChaosStory]:
    """`count` distinct stories, each with one or two syndicated copies (so two or three
    outlets carry it), deterministic for `seed`."""
    rng = random.Random(seed)
    made = []
    for i in range(count):
        kind = ("exercise", "protest", "rally")[i % 3]
        title, paragraphs = {"exercise": _exercise, "protest": _protest, "rally": _rally}[kind](rng)
        key = f"chaos-{i:03d}-{kind}"
        text = "\n\n".join(paragraphs)
        styles = tuple(rng.sample(SYNDICATION, rng.choice((1, 2))))
        versions = [(title, text)] + [syndicate(title, text, style) for style in styles]
        copies = tuple(
            FixtureStory(
                key=key if n == 0 else f"{key}-{style}",
                title=t,
                paragraphs=tuple(p for p in body.split("\n\n") if p.strip()),
                language="en",
                expect_topic=True,
                expect_events=frozenset(
                    {"exercise": {"exercise"}, "protest": {"protest", "exercise"}}.get(
                        kind, {"protest"}
                    )
                ),
            )
            for n, (style, (t, body)) in enumerate(
                zip(("original", *styles), versions, strict=True)
            )
        )
        made.append(ChaosStory(key=key, event=kind, copies=copies, styles=styles))
    return made


def _person(rng: random.Random, russian: bool) -> str:
    if russian:
        return f"{rng.choice(RU_GIVEN)} {rng.choice(RU_SURNAMES)}"
    return f"{rng.choice(JA_GIVEN)} {rng.choice(JA_SURNAMES)}"


def _background(rng: random.Random, island: str) -> str:
    picked = rng.sample(BACKGROUND, 2)
    fill = {
        "n": f"{rng.randint(12, 29)},{rng.randint(100, 999)}",
        "place": rng.choice(PLACES),
        "year": str(rng.randint(2019, 2024)),
        "island": island,
        "km": str(rng.randint(3, 19)),
        "k": str(rng.randint(2, 11)),
        "h": str(rng.randint(5, 27)),
    }
    return " ".join(s.format(**fill) for s in picked)


def _local(rng: random.Random) -> str:
    """A resident's view from the islands: unique names and numbers, no event words."""
    place = rng.choice(PLACES)
    return rng.choice(
        (
            f"In {place}, {_person(rng, russian=True)}, who runs a {rng.choice(SHOPS)} there, "
            f"said {rng.randint(3, 30)} lorries had passed his door in one morning and that "
            f"the road to the {rng.choice(('port', 'airfield', 'lighthouse'))} had been closed "
            f"for {rng.randint(2, 14)} hours.",
            f"Residents of {place} posted photographs of columns of lorries on a local forum "
            f"with {rng.randint(2, 9)},{rng.randint(100, 999)} members, and the district "
            f"administration asked drivers to avoid the coast road until {rng.choice(WEEKDAYS)}.",
            f"A teacher in {place}, {_person(rng, russian=True)}, said classes at the school, "
            f"which has {rng.randint(40, 400)} pupils, went on as usual, though the "
            f"{rng.choice(('ferry', 'bus', 'flight'))} from {rng.choice(PLACES)} was "
            f"{rng.randint(2, 9)} hours late.",
        )
    )


SHOPS = ("grocery", "hardware store", "cafe", "bakery", "garage", "pharmacy", "fish shop")


def _drill_details(rng: random.Random, island: str) -> list[str]:
    system, what = rng.choice(SYSTEMS)
    unit = rng.choice(UNITS)
    action, action2 = rng.sample(ACTIONS, 2)
    place = rng.choice(PLACES)
    troops = rng.randint(3, 39) * 100 + rng.choice((0, 50))
    vehicles = rng.randint(40, 390)
    colonel = _person(rng, russian=True)
    return [
        rng.choice(
            (
                f"More than {troops:,} troops and {vehicles} pieces of military hardware took "
                f"part, and crews of {system} {what} practiced {action}.",
                f"Some {troops:,} servicemen of the {unit} with {vehicles} vehicles were "
                f"involved; crews of {system} {what} rehearsed {action}.",
                f"The drills on {island} involved {troops:,} soldiers and {vehicles} units of "
                f"equipment, including {system} {what}, whose crews worked on {action}.",
            )
        ),
        rng.choice(
            (
                f"Near {place}, soldiers of the {unit} spent {rng.randint(2, 9)} days "
                f"{action2}, working in {rng.choice(WEATHER)}, the district said.",
                f"Another group from the {unit} trained at {place} in {action2}, the "
                f"statement said, despite {rng.choice(WEATHER)} for much of the week.",
            )
        ),
        f'"The personnel showed a high level of readiness," Colonel {colonel}, who led the '
        f"{rng.choice(('first', 'second', 'final'))} stage at {place}, told the district's "
        f"newspaper, adding that {rng.randint(11, 98)} targets had been hit.",
    ]


def _exercise(rng: random.Random) -> tuple[str, list[str]]:
    island, about = rng.choice(ISLANDS)
    drill = rng.choice(DRILLS)
    day = rng.choice(WEEKDAYS)
    title = rng.choice(
        (
            f"Russian troops hold {drill} drills on {island}",
            f"Russia stages {drill} exercises on the Kuril island of {island}",
            f"Eastern Military District rehearses {drill} operations on {island}",
        )
    )
    lead = rng.choice(
        (
            f"VLADIVOSTOK — Russian forces held {drill} drills on {island}, {about}, the "
            f"Eastern Military District said on {day}.",
            f"MOSCOW — Units of Russia's Eastern Military District carried out {drill} "
            f"exercises this week on {island}, {about}, the district's press office said "
            f"on {day}.",
            f"YUZHNO-SAKHALINSK — The Russian military conducted {drill} drills on {island}, "
            f"{about}, a statement from the Eastern Military District said on {day}.",
        )
    )
    return title, [lead, *_drill_details(rng, island), _local(rng), _background(rng, island)]


def _protest(rng: random.Random) -> tuple[str, list[str]]:
    island, about = rng.choice(ISLANDS)
    drill = rng.choice(DRILLS)
    day = rng.choice(WEEKDAYS)
    official = _person(rng, russian=False)
    diplomat = _person(rng, russian=True)
    title = rng.choice(
        (
            f"Japan protests Russian {drill} drills on {island}",
            f"Tokyo lodges protest with Moscow over military exercises on {island}",
            f"Japan files formal protest over Russian drills on disputed {island}",
        )
    )
    lead = rng.choice(
        (
            f"TOKYO — Japan lodged a formal protest with Russia on {day} after Russian forces "
            f"held {drill} drills on {island}, {about}.",
            f"TOKYO — The Japanese government filed a protest with Moscow through diplomatic "
            f"channels on {day} over {drill} exercises Russian troops staged on {island}, "
            f"{about}.",
        )
    )
    conveyed = rng.choice(
        (
            f"{official}, a director in the Foreign Ministry's European Affairs Bureau, "
            f"conveyed the protest to {diplomat}, a minister at the Russian Embassy in Tokyo, "
            f"calling the drills unacceptable and contrary to Japan's position on the "
            f"Northern Territories.",
            f"Senior Foreign Ministry official {official} told {diplomat} of the Russian "
            f"Embassy that the exercises on {island} were unacceptable and ran counter to "
            f"Japan's position on the islands, the ministry said.",
        )
    )
    spokesman = rng.choice(("Chief Cabinet Secretary", "Foreign Ministry spokesperson"))
    comment = (
        f'{spokesman} {_person(rng, russian=False)} told reporters it was "extremely '
        f'regrettable" that Russia was building up its forces on the islands, and said Tokyo '
        f"would keep a close watch on the {rng.randint(2, 9)} units involved."
    )
    details = _drill_details(rng, island)
    return title, [
        lead,
        conveyed,
        details[0],
        comment,
        details[2],
        _local(rng),
        _background(rng, island),
    ]


def _rally(rng: random.Random) -> tuple[str, list[str]]:
    island, _ = rng.choice(ISLANDS[:3])
    town = rng.choice(TOWNS)
    day = rng.choice(WEEKDAYS)
    people = rng.randint(2, 19) * 50 + rng.choice((0, 20, 30))
    age = rng.randint(78, 94)
    speaker = _person(rng, russian=False)
    witness = _person(rng, russian=False)
    km = rng.randint(2, 8)
    goal = rng.choice(("the city hall", "Cape Nosappu", "the harbour", "the prefectural office"))
    title = rng.choice(
        (
            f"Rally in {town} demands return of the Northern Territories",
            f"{people} march in {town} for return of {island} and the other islands",
            f"Former islanders rally in {town}, urge Russia to hand back {island}",
        )
    )
    lead = rng.choice(
        (
            f"{town.upper()}, Japan — About {people} people marched through {town} on {day}, "
            f"demanding that Russia return the four islands seized by Soviet forces at the end "
            f"of World War Two.",
            f"{town.upper()}, Japan — Some {people} demonstrators rallied in central {town} on "
            f"{day} to demand the return of {island} and the other Northern Territories from "
            f"Russia.",
            f"{town.upper()}, Japan — A crowd of {people} gathered in {town} on {day} for a rally "
            f"demanding that Russia give back {island} and three other islands it has held "
            f"since 1945.",
        )
    )
    march = rng.choice(
        (
            f"Former residents of the islands led the march, holding banners reading "
            f'"Return the Northern Territories" as they walked {km} kilometers to {goal}, '
            f"organizers said.",
            f"Led by a group of {rng.randint(8, 60)} former islanders, the marchers walked to "
            f"{goal} in {rng.choice(WEATHER)}, some carrying photographs of their old homes "
            f"on {island}.",
            f"The demonstrators, {rng.randint(10, 45)} of them born on the islands, set off "
            f"from {rng.choice(('the station', 'a park', 'the fish market'))} and ended the "
            f"march at {goal} after {km} kilometers, police said.",
        )
    )
    born = rng.choice(
        (
            f"\"I was born on {island} and I want to see my family's graves while I still "
            f'can," said {witness}, a {age}-year-old {rng.choice(OCCUPATIONS)} who joined the '
            f"rally.",
            f"{witness}, {age}, who left {island} as a child in {rng.randint(1946, 1949)}, "
            f'told the crowd: "{rng.choice(QUOTES)}."',
        )
    )
    resolution = rng.choice(
        (
            f"The rally, organized by {speaker}'s association of former islanders and the "
            f"{town} city government, adopted a resolution urging Tokyo to keep pressing "
            f"Moscow for the return of the islands, {rng.randint(3, 40)} years after the "
            f"association was founded.",
            f"Speakers including {speaker}, who chairs a league of {rng.randint(2, 9)},"
            f"{rng.randint(100, 999)} former residents, called on the government to resume "
            f"talks with Russia, and the meeting adopted a {rng.randint(3, 12)}-point appeal.",
        )
    )
    voice = (
        f"{_person(rng, russian=False)}, a {rng.randint(16, 70)}-year-old "
        f'{rng.choice(OCCUPATIONS)} from {rng.choice(TOWNS)}, said: "{rng.choice(QUOTES)}." '
        f"{rng.choice(('Organizers', 'The city', 'Police'))} put the crowd at "
        f"{people + rng.randint(5, 90)}."
    )
    return title, [lead, march, born, resolution, voice, _background(rng, island)]
