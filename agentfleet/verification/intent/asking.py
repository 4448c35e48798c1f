"""What a task asks to be looked at, and whether it is a question at all.

A look is owed where the work reads, lists or searches a path ("Summarize notes.md",
"How many files are in inbox/?"), and only the file itself answers a question of its size
or age. A question, advice ("How do I sort names.txt?") or a step that only plans or
checks asks for no file change. Kept apart from patterns.py, which reads what the work
makes, moves, changes or removes.
"""

from __future__ import annotations

import re

from agentfleet.verification.intent.patterns import _SRC, _listed

# "What is a .env file?" asks about a kind of file, not this one.
ASKED_PATH = re.compile(rf"(?<![\w/.-])(?<!\ba )(?<!\ban )(?P<path>{_SRC})(?![\w/])", re.I)
# "How do I sort names.txt?" asks how, and can be answered without opening the file.
_HOW_ASKED = (
    r"how\s+(?:do|can|would|should|could)\s+(?:i|we|you|one) how\s+to is\s+it\s+possible can\s+i"
    r" should\s+i what(?:'s|\s+is)?\s+(?:the\s+)?(?:best\s+)?(?:command|way)"
).split()
HOW_TO = re.compile(rf"^\s*(?:{'|'.join(_HOW_ASKED)})\b", re.I)
# What the work has to read, list or search before it can be right: "Summarize notes.md",
# "an index of docs/", "How many files are in inbox/?", "What does notes.md say ...".
# A program written to act on a path ("a script that cleans logs/") need not look at it.
_LOOK_VERB = (
    r"(?:read|summari[sz]e|review|analy[sz]e|explain|describe|index|catalog(?:ue)?|count"
    r"|compare|proofread|inspect|look\s+(?:at|through|over|in)|go\s+through|check|scan"
    # "list" as a verb: "a todo list with 3 items in todo.md" is a noun.
    r"|search|grep|list(?=\s+(?:all|every|each|the|my|our|files?|everything|what|which|out"
    r"|[\w.-]+/))|find|collect|extract|gather|pull|quote|translate|tally"
    # What is merged is read first: "Merge part1.txt and part2.txt into full.txt".
    r"|merge|combine|concatenate|join"
    r"|(?:gist|summary|overview|digest|synopsis|recap|contents?|list|table|count)\s+of"
    r"|based\s+on|according\s+to"
    r"|open|show\s+me|how\s+many|how\s+(?:big|large|long|old)|(?:size|length)\s+of"
    r"|what\s+(?:does|do|did|(?:is|are)\s+in)|what'?s\s+in)"
)
LOOKED_AT = re.compile(
    rf"(?:\b{_LOOK_VERB}\b[^;.?!\n]{{0,60}}?(?:\b(?:of|in|from|inside|under|through|at|within)\s+)?"
    # "... from commits.txt", "using data.csv": what the result is made from.
    r"|\b(?:from|using)\s+(?:the\s+[\w-]+(?:\s+[\w-]+)?\s+(?:in|of|from)\s+)?)"
    rf"(?:the\s+)?(?:files?\s+(?:in\s+)?|folder\s+|directory\s+)?(?P<paths>{_listed(_SRC)})"
    r"(?![\w/])",
    re.I,
)
# "What does ...", "Explain ...": a task that opens as a question is answered in words.
QUESTION = re.compile(
    r"^\s*(?:how|what|why|which|who|whom|when|where|should|is|are|was|were"
    r"|do|does|did|explain|describe|tell\s+me|give\s+me\s+an?\s+(?:overview|explanation))\b",
    re.I,
)
# "Do not change anything", "read-only": the files are to be left as they are.
HANDS_OFF = re.compile(
    r"\b(?:do\s+not|don't|without)\s+(?:chang|modify|touch|edit|writ)\w*\b"
    # "... without touching the other variables": the work is done, the rest kept.
    r"(?!\s+(?:the\s+)?(?:others?|rest|anything\s+else|remaining|other\s+\w+))|\bread[- ]only\b",
    re.I,
)
# "Which is bigger, a.txt or b.txt?": only the file itself answers (a stat or a read), not
# a listing or a search of the folder it is in, which give names and lines.
SIZE_ASKED = re.compile(
    r"\b(?:bigger|biggest|larger|largest|smaller|smallest|sizes?|longer|longest|shorter|shortest"
    r"|bytes|newer|newest|older|oldest|total|sum|average|mean|median|how\s+(?:big|large|long|old))\b",
    re.I,
)
# A step that only plans or checks quotes the goal ("Validate that every part
# of the goal was done: write a.txt ..."): the paths it quotes are not its own.
# "Review login.py and write the findings to review.md": the look comes with a change.
THEN_CHANGE = re.compile(
    r"\b(?:and|then)\s+(?:then\s+)?(?:write|save|create|make|put|move|copy|rename|delete|remove"
    r"|add|append|fix|update|edit|replace|sort|store|record)\b",
    re.I,
)
LOOK_ONLY = re.compile(
    r"^\s*(?:validate|verify|double[- ]check|check|review|confirm|inspect|ensure|make\s+sure"
    r"|plan|outline|think\s+about|proofread)\b",
    re.I,
)
# "Which is bigger, a.txt or b.txt?", "Tell me the first line of poem.txt": a question
# about the paths it names, which only a look at them can answer. A question about what
# would happen, or what one should do, is advice: the paths are its subject, not its data.
ASKED_ABOUT = re.compile(
    r"^\s*(?:(?:please\s+)?(?:tell|show|give)\s+me\b"
    r"|(?!(?:what|how)\s+(?:would|if|should|could)\b|should|would|could)"
    r"(?:which|what(?:'s)?|is|are|does|do|did|has|have|how|where|when|who)\b[^\n]*\?\s*$)",
    re.I,
)
