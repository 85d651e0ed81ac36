# ruff: noqa: E501  (the documents' prose, one paragraph a line)
"""How the sample documents in formats other than text, HTML and PDF were made, with the
builders of tests/formats.py: `python tests/make_sample_docs.py` writes them again into
sample_docs/."""

import csv
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import formats as f

S = Path(__file__).resolve().parent.parent / "sample_docs"

(S / "history/great_wall.docx").write_bytes(
    f.docx(
        [
            ("Title", "The Great Wall of China"),
            (
                "",
                "The Great Wall of China is a series of fortifications built across the historical northern borders of the ancient Chinese states and of Imperial China, as protection against the nomadic peoples of the Eurasian Steppe. It is not one wall but many, built, abandoned and rebuilt over some two thousand years.",
            ),
            ("Heading 1", "Early walls"),
            (
                "",
                "Several states of the Warring States period built walls of rammed earth from as early as the 7th century BC. After he unified China in 221 BC, Qin Shi Huang, the first emperor, had many of these walls joined into a single defence against the Xiongnu in the north. Little of the Qin wall remains today.",
            ),
            ("Heading 1", "The Ming wall"),
            (
                "",
                "Most of the wall that stands today was built by the Ming dynasty (1368-1644). After the Mongol-led Oirats defeated the Ming army and captured the emperor at the Battle of Tumu in 1449, the Ming rebuilt the northern frontier in brick and stone rather than rammed earth, with walls wide enough for soldiers to march along the top.",
            ),
            ("Heading 2", "Watchtowers and signals"),
            (
                "",
                "Watchtowers stood at regular intervals along the wall. Their garrisons passed warnings of an attack from tower to tower with smoke signals by day and fire by night, and the number of signals told how large the raiding force was.",
            ),
            ("Heading 2", "Famous passes"),
            (
                "table",
                "Section|Built|Notes\nBadaling|1504|The most visited section, north of Beijing\nShanhai Pass|1381|The eastern end, where the wall meets the Bohai Sea\nJiayu Pass|1372|The western end of the Ming wall, in Gansu",
            ),
            ("Heading 1", "Length"),
            (
                "",
                "A survey completed in 2012 by China's State Administration of Cultural Heritage measured every wall section built by every dynasty and found a total length of 21,196 kilometres. The Ming wall alone runs for about 8,850 kilometres.",
            ),
            ("Heading 1", "A myth"),
            (
                "",
                "The claim that the wall is visible from the Moon with the naked eye is a myth: the wall is long but only a few metres wide, and close to the colour of the land around it. Yang Liwei, China's first astronaut, said after his flight in 2003 that he had not been able to see it from orbit.",
            ),
        ],
        title="The Great Wall of China",
    )
)

(S / "science/dna_double_helix.odt").write_bytes(
    f.odt(
        [
            ("h1", "The discovery of the DNA double helix"),
            (
                "p",
                "Deoxyribonucleic acid (DNA) carries the genetic instructions of every known living organism. How a molecule could store and copy those instructions was one of the great questions of biology until its structure was found in 1953.",
            ),
            ("h2", "Before 1953"),
            (
                "p",
                "The Swiss physician Friedrich Miescher first isolated DNA in 1869, from the pus on surgical bandages, and called it nuclein. In 1944 Oswald Avery, Colin MacLeod and Maclyn McCarty showed that DNA, not protein, carries hereditary information in bacteria. In 1950 Erwin Chargaff found that in DNA the amount of adenine equals that of thymine, and the amount of guanine that of cytosine.",
            ),
            ("h2", "Photo 51"),
            (
                "p",
                "At King's College London, Rosalind Franklin and her student Raymond Gosling recorded an X-ray diffraction image of DNA in May 1952 that became known as Photo 51. Its X-shaped pattern pointed to a helix. In January 1953 Maurice Wilkins showed the image to James Watson without Franklin's knowledge.",
            ),
            ("h2", "The model"),
            (
                "p",
                "James Watson and Francis Crick, working at the Cavendish Laboratory in Cambridge, built a model of two strands wound around each other, with the bases on the inside joined in pairs. They published it in the journal Nature on 25 April 1953. The pairing rules explained Chargaff's ratios at once:",
            ),
            ("li", "adenine pairs with thymine;"),
            ("li", "guanine pairs with cytosine."),
            (
                "p",
                "Because each strand fixes the sequence of the other, a cell can copy its DNA by separating the strands and building a new partner for each.",
            ),
            ("h2", "Recognition"),
            (
                "p",
                "Watson, Crick and Wilkins shared the Nobel Prize in Physiology or Medicine in 1962. Rosalind Franklin had died of ovarian cancer in 1958 at the age of 37, and the prize is not awarded after death.",
            ),
        ],
        title="The discovery of the DNA double helix",
    )
)

(S / "technology/world_wide_web.pptx").write_bytes(
    f.pptx(
        [
            (
                "The World Wide Web",
                [
                    "A system of linked hypertext documents reached over the Internet",
                    "Proposed at CERN in 1989 by Tim Berners-Lee",
                ],
                "The Web is not the Internet: it is one service that runs on the Internet, as e-mail is another.",
            ),
            (
                "The proposal",
                [
                    "In March 1989 Tim Berners-Lee, a British scientist at CERN near Geneva, wrote Information Management: A Proposal",
                    'His supervisor, Mike Sendall, wrote "Vague but exciting" on its cover',
                    "The Belgian engineer Robert Cailliau joined him to revise the proposal in 1990",
                ],
                "Scientists at CERN came from institutes all over the world and used incompatible computers; the proposal was meant to let them share information.",
            ),
            (
                "Three technologies",
                [
                    "HTML, the markup language web pages are written in",
                    "URL, the address of every resource on the Web",
                    "HTTP, the protocol browsers and servers speak to each other",
                ],
                "",
            ),
            (
                "The first website",
                [
                    "The first web server ran on a NeXT computer at CERN by the end of 1990",
                    "info.cern.ch opened to the public in August 1991 and explained the project itself",
                    "The first browser, called WorldWideWeb, was also an editor of pages",
                ],
                "",
            ),
            (
                "Open to everyone",
                [
                    "On 30 April 1993 CERN put the Web software in the public domain",
                    "In 1994 Berners-Lee founded the World Wide Web Consortium (W3C) at MIT to develop its standards",
                ],
                "Making the software free of royalties is why the Web spread faster than the competing Gopher system.",
            ),
        ],
        title="The World Wide Web",
    )
)

(S / "history/magna_carta.epub").write_bytes(
    f.epub(
        [
            (
                "King John and the Barons",
                "<h1>King John and the Barons</h1><p>Magna Carta, the Great Charter, is a royal charter of rights agreed to by King John of England in 1215. It was the first document to put into writing the principle that the king and his government were not above the law.</p><p>John had lost Normandy to the French king Philip II in 1204 and raised ever heavier taxes to win it back. After his allies were defeated at the Battle of Bouvines in 1214, many of his barons rebelled, and in May 1215 they captured London.</p>",
            ),
            (
                "Runnymede",
                "<h1>Runnymede</h1><p>On 15 June 1215 John met the rebel barons at Runnymede, a water-meadow beside the River Thames near Windsor, and agreed to the charter. Its text, in Latin, was largely drafted by Stephen Langton, the Archbishop of Canterbury, and it held 63 clauses. Clause 61, the security clause, set up a council of 25 barons who could seize the king's castles and lands if he broke his word.</p><h2>Clauses 39 and 40</h2><p>The two clauses best remembered today promise that no free man shall be seized or imprisoned except by the lawful judgement of his equals or by the law of the land, and that to no one will the king sell, deny or delay right or justice.</p>",
            ),
            (
                "Annulment and Legacy",
                "<h1>Annulment and Legacy</h1><p>Neither side kept the peace. At John's request, Pope Innocent III annulled the charter on 24 August 1215, calling it illegal, unjust, harmful to royal rights and shameful to the English people, and the First Barons' War followed.</p><p>After John's death in 1216, the regents of his young son Henry III reissued the charter in 1216 and 1217, and Henry reissued it himself in 1225. Four copies of the 1215 charter survive: two in the British Library, one at Lincoln Cathedral and one at Salisbury Cathedral.</p>",
            ),
        ],
        title="Magna Carta",
    )
)

lakes = [
    ["Lake", "Countries", "Area (km2)", "Max depth (m)", "Notes"],
    [
        "Caspian Sea",
        "Kazakhstan; Russia; Turkmenistan; Azerbaijan; Iran",
        "371000",
        "1025",
        "The largest lake on Earth by area; its water is brackish, about a third as salty as seawater.",
    ],
    [
        "Lake Superior",
        "Canada; United States",
        "82100",
        "406",
        "The largest freshwater lake by area, and the deepest of the Great Lakes.",
    ],
    [
        "Lake Victoria",
        "Uganda; Kenya; Tanzania",
        "59947",
        "84",
        "The largest lake in Africa and the main reservoir of the White Nile; named after Queen Victoria by John Hanning Speke in 1858.",
    ],
    [
        "Lake Huron",
        "Canada; United States",
        "59600",
        "229",
        "Holds Manitoulin Island, the largest island in any freshwater lake.",
    ],
    [
        "Lake Michigan",
        "United States",
        "58000",
        "282",
        "The only one of the Great Lakes entirely within one country.",
    ],
    [
        "Lake Tanganyika",
        "Tanzania; DR Congo; Burundi; Zambia",
        "32600",
        "1470",
        "The longest freshwater lake in the world, about 673 km from north to south.",
    ],
    [
        "Lake Baikal",
        "Russia",
        "31722",
        "1642",
        "The deepest and oldest lake in the world, about 25 million years old; it holds about a fifth of the unfrozen fresh surface water on Earth.",
    ],
    ["Great Bear Lake", "Canada", "31153", "446", "The largest lake entirely within Canada."],
    [
        "Lake Malawi",
        "Malawi; Mozambique; Tanzania",
        "29600",
        "706",
        "Home to more species of fish than any other lake, most of them cichlids.",
    ],
    ["Great Slave Lake", "Canada", "27200", "614", "The deepest lake in North America."],
]
out = io.StringIO()
csv.writer(out, lineterminator="\n").writerows(lakes)
(S / "geography/largest_lakes.csv").write_text(out.getvalue())

langs = [
    ["Language", "Year", "Designers", "Where", "Notes"],
    [
        "Fortran",
        "1957",
        "John Backus",
        "IBM",
        "The first widely used high-level language, made for scientific computing.",
    ],
    [
        "Lisp",
        "1958",
        "John McCarthy",
        "MIT",
        "Introduced garbage collection, and programs written as lists that programs can process.",
    ],
    [
        "COBOL",
        "1959",
        "The CODASYL committee",
        "Sponsored by the US Department of Defense",
        "Based partly on Grace Hopper's FLOW-MATIC; it still runs many banking systems.",
    ],
    [
        "BASIC",
        "1964",
        "John Kemeny and Thomas Kurtz",
        "Dartmouth College",
        "Written so that students outside science and engineering could use time-sharing computers.",
    ],
    [
        "C",
        "1972",
        "Dennis Ritchie",
        "Bell Labs",
        "Created to rewrite the Unix operating system, which made Unix portable to other machines.",
    ],
    [
        "Smalltalk",
        "1972",
        "Alan Kay, Dan Ingalls and Adele Goldberg",
        "Xerox PARC",
        "Everything is an object, and objects work by sending each other messages.",
    ],
    ["C++", "1985", "Bjarne Stroustrup", "Bell Labs", "Began in 1979 as C with Classes."],
    [
        "Java",
        "1995",
        "James Gosling",
        "Sun Microsystems",
        "Compiled to bytecode for the Java virtual machine, so that a program could be written once and run anywhere.",
    ],
    [
        "JavaScript",
        "1995",
        "Brendan Eich",
        "Netscape",
        "Its first version was written in ten days, under the name Mocha.",
    ],
    [
        "Rust",
        "2015",
        "Graydon Hoare",
        "Mozilla",
        "Memory safety without a garbage collector, enforced by its borrow checker; version 1.0 came out in May 2015.",
    ],
]
(S / "technology/programming_languages.tsv").write_text("".join("\t".join(r) + "\n" for r in langs))

(S / "history/seven_wonders.xlsx").write_bytes(
    f.xlsx(
        {
            "Wonders": [
                ["Wonder", "Location", "Built", "Destroyed", "Notes"],
                [
                    "Great Pyramid of Giza",
                    "Giza, Egypt",
                    "c. 2560 BC",
                    "Still standing",
                    "The oldest of the seven and the only one that survives; it was the tallest man-made structure in the world for more than 3,800 years.",
                ],
                [
                    "Hanging Gardens of Babylon",
                    "Babylon, Mesopotamia",
                    "c. 600 BC",
                    "Unknown",
                    "Said to have been built by Nebuchadnezzar II for his wife; archaeologists have never found them, and they may not have existed.",
                ],
                [
                    "Temple of Artemis",
                    "Ephesus, Asia Minor",
                    "c. 550 BC",
                    "AD 401",
                    "Burned down in 356 BC by Herostratus, who wanted to be famous, and rebuilt larger than before.",
                ],
                [
                    "Statue of Zeus at Olympia",
                    "Olympia, Greece",
                    "c. 435 BC",
                    "5th century AD",
                    "A seated figure about 12 metres tall, made of ivory and gold by the sculptor Phidias.",
                ],
                [
                    "Mausoleum at Halicarnassus",
                    "Halicarnassus, Asia Minor",
                    "c. 351 BC",
                    "12th to 15th century AD",
                    "The tomb of Mausolus, a Persian satrap, brought down by earthquakes; its name gave us the word mausoleum.",
                ],
                [
                    "Colossus of Rhodes",
                    "Rhodes, Greece",
                    "280 BC",
                    "226 BC",
                    "A bronze statue of the sun god Helios about 33 metres tall, toppled by an earthquake 54 years after it was finished.",
                ],
                [
                    "Lighthouse of Alexandria",
                    "Alexandria, Egypt",
                    "c. 280 BC",
                    "AD 1303 to 1480",
                    "Built on the island of Pharos under Ptolemy II; ruined by earthquakes, its stones went into the Citadel of Qaitbay.",
                ],
            ]
        },
        title="The Seven Wonders of the Ancient World",
    )
)

(S / "science/pendulum.ipynb").write_bytes(
    f.ipynb(
        [
            (
                "markdown",
                "# The simple pendulum\n\nA simple pendulum is a weight hung from a fixed point on a string, free to swing. Around 1602 Galileo Galilei noticed that the time a pendulum takes for one swing hardly depends on how wide it swings, a property called isochronism.\n\nThe Dutch scientist Christiaan Huygens built the first pendulum clock in 1656. It kept time to within about 15 seconds a day, where the best clocks before it drifted by about 15 minutes.",
                None,
            ),
            (
                "markdown",
                "## The period\n\nFor small swings the period, the time of one full swing there and back, is T = 2π√(L/g), where L is the length of the string and g the acceleration due to gravity, 9.81 m/s² at the Earth's surface. The mass of the weight does not appear in the formula.",
                None,
            ),
            (
                "code",
                'import math\n\ng = 9.81  # m/s²\nlength = 1.0  # m\nperiod = 2 * math.pi * math.sqrt(length / g)\nprint(f"Period of a 1 m pendulum: {period:.2f} s")',
                "Period of a 1 m pendulum: 2.01 s\n",
            ),
            (
                "markdown",
                "## A seconds pendulum\n\nA pendulum whose swing one way takes exactly one second has a period of two seconds and is called a seconds pendulum. Solving the formula for L gives its length: just under one metre.",
                None,
            ),
            (
                "code",
                'seconds_length = g * (2 / (2 * math.pi)) ** 2\nprint(f"Length of a seconds pendulum: {seconds_length:.3f} m")',
                "Length of a seconds pendulum: 0.994 m\n",
            ),
            (
                "markdown",
                "## Foucault's pendulum\n\nIn 1851 Léon Foucault hung a 67-metre pendulum from the dome of the Panthéon in Paris. Its plane of swing slowly turned in the course of the day, which showed that the Earth rotates.",
                None,
            ),
        ]
    )
)

(S / "history/transatlantic_cable.eml").write_bytes(
    f.eml(
        "Notes for the transatlantic cable exhibit",
        "Margaret Ellis <m.ellis@harbour-museum.example>",
        "Volunteer guides <guides@harbour-museum.example>",
        "Tue, 14 Oct 2025 09:12:00 +0100",
        """Dear guides,

Here are the facts for the new telegraph cable gallery, so that we all tell visitors the same story.

The first transatlantic telegraph cable was completed on 5 August 1858, between Valentia Island in Ireland and Trinity Bay in Newfoundland. The project was led by the American businessman Cyrus West Field. On 16 August Queen Victoria sent a message of congratulation to President James Buchanan; its 98 words took about 16 hours to transmit.

The cable failed after only three weeks. The chief electrician, Wildman Whitehouse, had applied up to 2,000 volts to push the signals through faster, and the insulation broke down.

A lasting connection came in 1866, when the SS Great Eastern, then the largest ship in the world, laid a new cable and completed it on 27 July 1866. It could carry about eight words a minute. Please point visitors to the piece of the 1866 cable in case 3.

Thank you,
Margaret
""",
    )
)
