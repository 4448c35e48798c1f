"""The phrasings that give the words a file must hold, or lose, when the work is done.

Read by content.py: each pattern names the file (group `file`) and the words, quoted
(groups `text1`..`text5`, or `old1`.. for words to be gone) or, where they can only be
literal, bare (group `bare`). See content.py for what is taken and what is left alone.
"""

from __future__ import annotations

import re

from agentfleet.verification.intent.patterns import DEDUPE_VERB, FILE_PATH, _listed

# The quotes people type, as (opening, closing).
_QUOTES = (("'", "'"), ('"', '"'), ("“", "”"), ("\u2018", "\u2019"), ("`", "`"))


def _quote(name: str | None = None) -> str:
    """A quoted text in any of the quotes people type, its words in group `name`1..5."""
    return (
        "(?:"
        + "|".join(
            rf"{a}(?P<{name}{i}>[^{b}\n]+){b}" if name else rf"{a}[^{b}\n]+{b}"
            for i, (a, b) in enumerate(_QUOTES, start=1)
        )
        + ")"
    )


# "... to it", "... in that file": the file named last before, resolved by content.py.
_FILE_AT = (
    rf"(?:(?:the\s+)?(?:file\s+)?{FILE_PATH}"
    r"|(?P<it>it|(?:that|this|the\s+same)\s+file)(?=[\s.,;!?]|$))"
)
# One end of a file: "the top of", "the very end of".
_END_OF = r"the\s+(?:very\s+)?(?P<end>end|top|bottom|start|beginning|head|front|foot)\s+of"
# "the line", "a new entry saying": what the quoted words are, said before them.
_WHAT = (
    r"(?:(?:an?|the)\s+)?(?:(?:new|single|short|final|first|last)\s+)?"
    r"(?:line|lines|entry|row|item|word|words|text|phrase|sentence|string|message|note|bullet"
    r"|heading|title|comment|greeting)\s+(?:saying\s+|reading\s+|that\s+says\s+)?"
)
# "the number 3", "the line version=2": one unquoted word the kind of it names. It must
# hold a digit or a symbol: "the line below", "the line numbers" name no words. After
# "the word" any word is the word ("append the word reviewed"), but for the few that make
# a thing of it: "the word count".
_BARE = (
    r"the\s+(?:(?:number|word|line|value|string|text)\s+(?=[^\s'\"`“”\u2018\u2019,;]*[\d=:_/@#+])"
    r"|word\s+(?!(?:counts?|lists?|limits?|lengths?|frequenc\w*|clouds?|order|boundar\w*"
    r"|wrap\w*|processors?|games?|search\w*|of|for|in|to|into|and|or|that|which|from|with)\b))"
    r"(?P<bare>[^\s'\"`“”\u2018\u2019,;]+)"
)
# "Write 'x' to a.txt", "Save 'x' as memo.txt", "Put the line 'x' in settings.txt".
_PUT = re.compile(
    rf"\b(?:write|save|put|store|type|enter|place)\s+(?:(?:{_WHAT})?{_quote('text')}|{_BARE})\s+"
    rf"(?:(?:in)?to|in|inside|as|at\s+{_END_OF})\s+{_FILE_AT}",
    re.I,
)
# "Add 'Carol' to the guest list in guests.txt", "Append the line 'done' to log.txt".
_ADD = re.compile(
    rf"\b(?:add|append|prepend|insert)\s+(?:(?:{_WHAT})?{_quote('text')}|{_BARE})"
    r"(?P<gap>[^,;.!?\n'\"“”\u2018\u2019`]{0,50}?)\b(?:to|into|in|of|onto|on)\s+" + _FILE_AT,
    re.I,
)
# "Create todo.txt containing 'buy milk'", "notes.md with the text 'hello'", "Make
# hello.txt say 'Hello, World!'", "Overwrite status.txt with the word done".
_CONTAINING = re.compile(
    rf"{FILE_PATH}\s+(?:that\s+)?(?:(?:containing|contains|which\s+contains|holding|saying|says?"
    r"|that\s+says|reading|with\s+(?:just\s+|only\s+)?(?:the\s+|a\s+)?(?:(?:single|one)\s+)?"
    rf"(?:text|content|contents|line|words?|message|sentence|phrase))\s*:?\s*{_quote('text')}"
    r"|(?:with|containing|saying)\s+(?:just\s+|only\s+)?the\s+word\s+(?P<bare>[A-Za-z][\w'-]*)\b)",
    re.I,
)
# "Replace 'colour' with 'color' in essay.md": the new words must be there.
_SWAP = (
    r"\b(?:replace|change|swap|switch)\s+(?:(?:every|each|all)\s+(?:occurrences?\s+of\s+)?"
    rf"|the\s+(?:word|text|line|phrase|string)\s+)?{_quote('old')}\s+(?:with|to|for|by|into)\s+"
    + _quote("text")
)
_REPLACE = re.compile(
    _SWAP
    + r"(?P<gap>[^,;.!?\n'\"“”\u2018\u2019`]{0,30}?)\b(?:in|throughout|within|across)\s+"
    + _FILE_AT,
    re.I,
)
# Line by line: a task's title and its description each start a line.
_IN_FILE_REPLACE = re.compile(rf"^\s*in\s+{FILE_PATH}\s*,?\s+" + _SWAP, re.I | re.M)

# "Remove the line 'x' from a.txt", "Fix the typo 'teh' in letter.txt": words to be gone.
_TAKE_OUT = re.compile(
    r"\b(?:remove|delete|strip|drop|erase|cut|get\s+rid\s+of|take\s+out)\s+"
    r"(?:(?:the|every|all|each|any)\s+)?(?:(?:lines?|words?|entry|entries|rows?|mentions?"
    r"|occurrences?|instances?|text|phrase|string)\s+(?:of\s+|saying\s+|containing\s+"
    rf"|with\s+|that\s+says?\s+)?)?{_quote('old')}\s+(?:from|in|out\s+of)\s+{_FILE_AT}",
    re.I,
)
_TYPO = re.compile(
    r"\bfix\s+(?:the\s+)?(?:typo|misspelling|misspelt\s+word|spelling(?:\s+(?:mistake|error))?)"
    rf"s?\s+{_quote('old')}\s+(?:in|of)\s+{_FILE_AT}",
    re.I,
)

# "Put the words good morning into hello.txt", "Add a line saying call mom to todo.txt":
# unquoted words the task calls words, up to where they go.
_NOT_WORDS = (
    r"(?!(?:of|from|about|for|that|which|below|above|here|there|you|we|i|it|this|these"
    r"|those)\b)"
)
_SAID = r"(?P<bare>[A-Za-z][^,;:.!?\n'\"`“”\u2018\u2019]{0,60}?)"
_WHERE_TO = (
    r"\s+(?:(?:in)?to|in|inside|at)\s+"
    rf"(?:{_END_OF}\s+)?"
)
_NAMED_WORDS = re.compile(
    r"\b(?:write|put|save|type|enter|place|add|append|insert)\s+(?:"
    r"the\s+(?:words|phrase|sentence)\s+"
    r"|(?:an?\s+|the\s+)?(?:new\s+)?(?:line|entry|note|item)\s+(?:saying|reading|that\s+says)\s+)"
    rf"{_NOT_WORDS}{_SAID}{_WHERE_TO}" + _FILE_AT,
    re.I,
)
# "Replace May with June in notes.txt": one bare word for another. Not the name of a
# symbol ("Replace commas with semicolons" means the characters, not the words).
_SYMBOLS = (
    r"(?:commas?|semicolons?|colons?|tabs?|spaces?|newlines?|dashes|hyphens?|underscores?|quotes?"
    r"|periods?|dots?|slashes|backslashes|brackets?|parenthes[ie]s|asterisks?|pipes?|spaces)"
)
_A_WORD = r"[A-Za-z0-9][\w.:/@#+-]*?"
_REPLACE_BARE = re.compile(
    r"\b(?:replace|change|swap)\s+(?:(?:every|each|all)\s+(?:(?:occurrences?|instances?)\s+of\s+)?)?"
    rf"(?!(?:{_SYMBOLS}|a|an|the|all|every|each|it|them|this|that)\b)(?P<bare_old>{_A_WORD})\s+"
    rf"(?:with|to|for|by)\s+(?!(?:{_SYMBOLS}|a|an|the|it|them)\b)(?P<bare>{_A_WORD})\s+"
    r"(?:in|throughout|within|across)\s+" + _FILE_AT,
    re.I,
)

# Words that name no item of a list: "Add tests to the end of test_a.py" adds code.
_NOT_ITEM = (
    r"(?:a|an|the|some|more|any|it|them|this|that|these|those|another|one|two|three|tests?"
    r"|comments?|logging|docs|documentation|notes|headers?|footers?|titles?|lines?|entries"
    r"|items|sections?|types?|everything|something|anything|numbers|timestamps?|dates?"
    r"|newlines?|blank|whitespace|padding|spaces?|tabs?|punctuation|links?|details|info"
    r"|information|examples?|descriptions?|summary|summaries|text|content|code|me|us|you"
    r"|imports?|docstrings?|shebang|types?|hints|annotations|exports?|tags?|labels?"
    r"|yourself|myself|him|her)"
)
# "Add eggs to the end of shopping.txt", "Add Carol to the guest list in guests.txt": one
# item added to an end or a list is named by its word.
_ADD_ITEM = re.compile(
    rf"\b(?:add|append)\s+(?!{_NOT_ITEM}\b)(?P<bare>[A-Za-z][\w'-]*)\s+to\s+(?:the\s+)?"
    # The end of a list, not its top: "Add imports to the top of main.py" adds code.
    r"(?:(?:very\s+)?(?:end|bottom)\s+of\s+(?:the\s+)?(?:file\s+)?"
    r"|(?:[\w-]+\s+){0,2}list\s+(?:in|of|at)\s+(?:the\s+)?(?:file\s+)?)" + FILE_PATH,
    re.I,
)
# Words that, bare after "write", say what kind of thing goes in, not the thing itself:
# mass nouns and forms ("Write code into main.py", "Write JSON to out.json").
_KIND_OF = (
    r"(?:code|logic|python|javascript|typescript|sql|bash|shell|json|yaml|toml|csv|html|xml"
    r"|markdown|prose|poetry|verse|music|data|output|input|info|guidance|advice|feedback"
    r"|stuff|nothing|more|less|down|out|up|over|back|again|instructions|documentation|haiku"
    r"|limerick|sonnet|fiction|pseudocode|boilerplate|copy|lorem|placeholder|filler)"
)
# "Write hello into a.txt": one bare word, with no article and no plural to make it a kind
# of thing ("Write notes into a.txt"), is the word to write.
_PUT_WORD = re.compile(
    rf"\b(?:write|put|type|enter)\s+(?!(?:{_NOT_ITEM}|{_KIND_OF})\b)(?!(?!yes\b)[\w'-]*[^\Ws]s\b)"
    r"(?P<bare>[A-Za-z][\w'-]*)\s+(?:(?:in)?to|in|inside)\s+" + _FILE_AT,
    re.I,
)
# "Change the port from 8080 to 9090 in config.ini", "In a.cfg, set retries to 5": a new
# value with a digit in it, or quoted, is literal.
_SET = r"\b(?:change|set|update|switch|bump|increase|decrease|raise|lower|reduce)\b"
# A flag's value is as literal as a number: "set debug to false".
# ... and so is a name given with its capital: "Change the author to Jane in book.yaml".
_VALUE = (
    rf"\bto\s+(?:{_quote('text')}|(?P<bare>[\w.:/-]*\d[\w.:/-]*?|(?:true|false|yes|no|on|off"
    r"|enabled|disabled|(?-i:[A-Z][a-z][\w.-]*))"
    r"(?=[.,;!?]?(?:\s*$|\s+(?:in|of|for|and|then|inside)\b)|[.,;!?]\s)))"
    r"(?=[.,;!?]?(?:\s|$))"
)
# "Change the port from 8080 to 9090", "Change port 8080 to 9090": the value it replaces.
OLD_VALUE = re.compile(
    r"(?:\bfrom\s+|(?<=\s))(?P<old>[\w.:/-]*\d[\w.:/-]*|true|false|yes|no|on|off)\s+to\s+", re.I
)
# The file a setting is in: "... in config.ini", "... of app.yaml".
_OF_FILE = rf"\b(?:in|of)\s+{_FILE_AT}"
_SET_VALUE = re.compile(
    rf"{_SET}[^;\n]*?{_VALUE}(?P<gap>[^,;.!?\n'\"“”\u2018\u2019`]{{0,30}}?){_OF_FILE}", re.I
)
_SET_VALUE_LATER = re.compile(rf"{_SET}[^;\n]*?{_OF_FILE}(?P<gap>[^;\n]*?){_VALUE}", re.I)
_IN_FILE_SET = re.compile(rf"^\s*in\s+{FILE_PATH}\s*,?\s+{_SET}[^;\n]*?{_VALUE}", re.I | re.M)
# "Set LOG_LEVEL=debug in .env": the key and its value as the file spells them.
_SET_ASSIGN = re.compile(
    r"\b(?:set|add|change|update|put)\s+(?:the\s+)?(?:(?:env(?:ironment)?\s+)?(?:variable|key"
    r"|setting|option)\s+)?(?P<key>[A-Za-z_][\w.-]*)\s*=\s*(?P<bare>[^\s,;'\"`]*[^\s,;.'\"`])"
    r"\s+(?:in|inside|within|to)\s+" + _FILE_AT,
    re.I,
)
# The phrasings that set a named setting to a value, and the verb that starts them.
SETS = (_SET_VALUE, _SET_VALUE_LATER, _IN_FILE_SET, _SET_ASSIGN)
SET_VERB = re.compile(_SET, re.I)

# "Add 'milk' and 'eggs' to shopping.txt", "Write 'a', 'b' and 'c' to list.txt": several
# quoted items, each of which the file must hold.
_ONE_QUOTED = _quote()
QUOTED_ITEMS = re.compile(
    r"\b(?:write|save|put|add|append|insert|include|list)\s+"
    r"(?:the\s+)?(?:(?:lines?|words?|items?|entries|names?|phrases?)\s+)?"
    rf"(?P<items>{_ONE_QUOTED}(?:\s*(?:,\s*(?:and\s+)?|and\s+){_ONE_QUOTED})+)"
    rf"\s+(?:(?:in)?to|in|at\s+the\s+(?:end|bottom)\s+of)\s+{_FILE_AT}",
    re.I,
)
ONE_QUOTED = re.compile(_ONE_QUOTED)

PATTERNS = (
    _PUT,
    _ADD,
    _CONTAINING,
    _REPLACE,
    _IN_FILE_REPLACE,
    _TAKE_OUT,
    _TYPO,
    _ADD_ITEM,
    _PUT_WORD,
    _NAMED_WORDS,
    _REPLACE_BARE,
    _SET_VALUE,
    _SET_VALUE_LATER,
    _IN_FILE_SET,
    _SET_ASSIGN,
)

# "Write these lines to packing.txt, one per line: passport, charger, socks", "Replace
# whatever is in status.txt with: all systems go": what follows the colon is literal.
AFTER_COLON = re.compile(
    r"\b(?:write|put|save|add|append|create|make|replace|overwrite|fill)\b"
    r"(?P<pre>[^:;\n]*?)\s*:\s*(?P<items>[^\n;]+)",
    re.I,
)
_ONE_PER_LINE = r"one\s+(?:per|a|on\s+each)\s+line"
LISTED = re.compile(rf"\b(?:{_ONE_PER_LINE}|lines|items|entries|names|words)\s*$", re.I)
WITH = re.compile(r"\bwith\s*$", re.I)
PER_LINE = re.compile(rf"\b{_ONE_PER_LINE}\b|\beach\s+on\s+its\s+own\s+line\b", re.I)
# "Sort the lines of words.txt alphabetically": the lines end in order, reversed if the
# rest of the clause says so. Not "by" a column or a field: that order is not the lines'.
NOT_OWN_ORDER = re.compile(r"\bby\b|\bthen\b|\band\s+(?!(?:save|write)\b)\w+", re.I)
_BIG = "largest highest biggest greatest newest latest most\\s+\\w+".split()
_BIG_FIRST = rf"(?:{'|'.join(_BIG)})\s+first|high(?:est)?\s+to\s+low(?:est)?"
DESCENDING = re.compile(rf"\b(?:descending|reverse|z\s*(?:-|to)\s*a|{_BIG_FIRST})\b", re.I)
SORTED = re.compile(
    r"\b(?:sort|alphabeti[sz]e|order)\s+(?:the\s+)?(?:(?:lines|names|words|entries|items|list)\s+"
    rf"(?:of|in)\s+)?(?:the\s+(?:file\s+)?)?{FILE_PATH}(?P<how>[^;\n]*)",
    re.I,
)
# "Sort scores.csv by the score column, highest first": the rows in that column's order.
BY_COLUMN = re.compile(
    r"\b(?:sort|order)\s+(?:the\s+(?:rows|lines|entries)\s+(?:of|in)\s+)?(?:the\s+(?:file\s+)?)?"
    rf"{FILE_PATH}\s+by\s+(?:the\s+)?[`'\"]?(?P<col>[\w-]+)[`'\"]?(?:\s+(?:column|field))?"
    r"(?P<how>[^;\n]*)",
    re.I,
)
# "Remove the duplicate lines from emails.txt", "Dedupe names.txt": no line twice.
DEDUPE = re.compile(
    r"\b(?:(?:remove|delete|drop|strip|eliminate|get\s+rid\s+of)\s+(?:the\s+|all\s+(?:the\s+)?"
    r"|any\s+)?(?:duplicates|(?:duplicated?|repeated|doubled?)\s+(?:lines|entries|rows|items"
    r"|names|emails|addresses|words|values))\s+(?:from|in)\s+"
    rf"|{DEDUPE_VERB}\s+(?:the\s+)?(?:(?:lines|entries|rows)\s+(?:of|in)\s+)?){_FILE_AT}",
    re.I,
)
# "Insert the line x at the top of app.py", "Prepend a title to a.md": which end of the
# file the new text goes to.
_PREPEND_TO = r"(?P<pre>prepend)\b[^;\n]*?\bto"
AT_END = re.compile(rf"\b(?:(?:at|to|on)\s+{_END_OF}|{_PREPEND_TO})\s+{_FILE_AT}", re.I)
# "Remove every line that starts with # from notes.txt": no line may start so.
LINES_STARTING = re.compile(
    r"\b(?:remove|delete|drop|strip)\s+(?:all\s+|every\s+|each\s+|any\s+)?(?:the\s+)?lines?\s+"
    r"(?:that\s+)?(?:start|begin)(?:s|ing)?\s+with\s+(?:an?\s+)?"
    rf"(?:{_quote('text')}|(?P<bare>[^\s'\"`]+))\s+(?:from|in)\s+" + _FILE_AT,
    re.I,
)
# "Rewrite intro.md in a friendlier tone, keep it under 100 words": a ceiling on words.
WORD_LIMIT = re.compile(
    r"\b(?:under|below|at\s+most|no\s+more\s+than|not\s+more\s+than|fewer\s+than|less\s+than"
    r"|within|max(?:imum)?(?:\s+of)?|up\s+to)\s+(?P<n>\d+)\s+words\b",
    re.I,
)
# "Fix the typos in story.md: 'teh'→'the' and 'recieve' should be 'receive'": one word
# for another.
ARROW_SWAP = re.compile(
    rf"{_quote('old')}\s*(?:→|->|=>|⇒|\s(?:should\s+(?:be|read|become)|becomes?)\s)\s*"
    + _quote("text")
)
# "Add tmp/ and *.log to .gitignore": paths and patterns, each of which the file must hold.
_PATHLIKE = r"(?:\*|\.?[\w-]*[/*])[\w.*/-]*|\*?\.[A-Za-z0-9]+"
_PATHS = _listed(f"(?:{_PATHLIKE})")
PATH_ITEMS = re.compile(
    rf"\b(?:add|append|put)\s+(?P<items>{_PATHS})\s+(?:(?:in)?to|in)\s+{_FILE_AT}", re.I
)
# "Remove the unused import os from report.py": that import is gone.
REMOVE_IMPORT = re.compile(
    r"\b(?:remove|delete|drop|strip|get\s+rid\s+of)\s+(?:the\s+)?(?:unused\s+|unnecessary\s+"
    r"|redundant\s+)?(?P<bare_old>import\s+[\w.]*\w)(?:\s+(?:statement|line))?\s+(?:from|in)\s+"
    + _FILE_AT,
    re.I,
)
# "Delete every line containing DEPRECATED from api.txt": the word is gone with its lines.
LINES_WITH = re.compile(
    r"\b(?:remove|delete|drop|strip|cut|filter\s+out|get\s+rid\s+of)\s+(?:all\s+|every\s+"
    r"|each\s+|any\s+)?(?:of\s+)?(?:the\s+)?lines?\s+(?:that\s+)?(?:contain(?:s|ing)?|with"
    r"|mention(?:s|ing)?|hav(?:e|ing)|including)\s+(?:the\s+(?:word|text|string|marker)\s+)?"
    r"(?!(?:a|an|the|any|some|no|only|just|more|less|fewer|at)\b)(?P<bare_old>[\w.$#@:-]*\w)\s+"
    r"(?:from|in|out\s+of)\s+" + _FILE_AT,
    re.I,
)
# "shopping.txt with milk, eggs and bread on separate lines": each item a line.
_OWN_LINES = (
    r"(?:on\s+(?:separate|their\s+own|different|individual)\s+lines|one\s+(?:per|on\s+each|a)\s+line"
    r"|each\s+on\s+(?:its\s+own|a\s+(?:new|separate))\s+line)"
)
OWN_LINES = re.compile(_OWN_LINES, re.I)
SEPARATE_LINES = re.compile(
    rf"{FILE_PATH}\s+(?:with|containing|holding|listing)\s+(?P<items>[^;:.\n]+?)\s*,?\s+"
    + _OWN_LINES,
    re.I,
)
# Described content with a shape a reader can count: "a haiku ... into poem.txt" (three
# lines, a title aside), "a list of three things ... in picnic.txt", "three ideas ... in
# ideas.txt" (as many items, on lines or in one line between commas).
_WHERE_IN = rf"[^;\n]*?\b(?:in(?:to)?|to|as)\s+(?:(?:a|an|the|new)\s+)*(?:file\s+)?{FILE_PATH}"
HAIKU = re.compile(r"\ba\s+haiku\b" + _WHERE_IN, re.I)
_COUNT_WORD = r"(?P<n>two|three|four|five|six|seven|eight|nine|ten|\d{1,2})"
COUNTED = re.compile(
    rf"\blist\s+of\s+{_COUNT_WORD}\b{_WHERE_IN}"
    rf"|\b{_COUNT_WORD.replace('<n>', '<m>')}\s+(?:\w+\s+)?(?:things|items|ideas|names|reasons|tips"
    r"|steps|examples|points|questions|facts|suggestions|tasks|goals|rules)\b"
    + _WHERE_IN.replace("<file>", "<file2>"),
    re.I,
)
NUMBER_WORDS = {
    w: i for i, w in enumerate("two three four five six seven eight nine ten".split(), 2)
}
# "README.md for a project called Lighthouse": the file names the thing it is for.
NAMED_THING = re.compile(
    r"\b(?:project|app|application|tool|library|product|company|team|game|service|website|site"
    r"|book|story|recipe|newsletter|event|shop|store|band|club)\s+(?:called|named|titled)\s+"
    r"(?:'(?P<q1>[^'\n]+)'|\"(?P<q2>[^\"\n]+)\"|(?P<name>(?-i:[A-Z])[\w-]+))",
    re.I,
)
# "Put the numbers 1 to 5 in numbers.txt, one per line".
NUMBERS = re.compile(
    r"\bthe\s+numbers\s+(?:from\s+)?(?P<a>\d{1,4})\s+(?:to|through|thru|-)\s+(?P<b>\d{1,4})\b",
    re.I,
)
WORDS_END = re.compile(r"\.\s|\s[\[(]")
ONE_FILE = re.compile(FILE_PATH, re.I)

# The file is to hold the words changed, not as given.
TRANSFORMED = re.compile(
    r"\b(?:translat\w*|revers\w*|backwards?|encod\w*|encrypt\w*|hash\w*|base64|rot13|upper\w*"
    r"|lower\w*|(?:all\s+)?caps|capitali[sz]\w*|title\s+case|paraphras\w*|reword\w*|rephras\w*"
    r"|summari[sz]\w*|spell\w*|morse|binary|hex\w*|pig\s+latin|emoji\w*|ascii\s+art|scrambl\w*"
    r"|shuffl\w*|sort\w*|in\s+(?:french|spanish|german|italian|portuguese|dutch|japanese|chinese"
    r"|korean|russian|arabic|hindi|latin|greek|another\s+language))\b",
    re.I,
)
# A later step that reworks the file: what it ends up holding is not the quoted words.
REWORK = re.compile(
    r"\b(?:replace|change|edit|rewrite|overwrite|sort|reverse|shuffle|translate|convert"
    r"|encrypt|encode|rename|move|delete|remove|clear|empty|truncate|strip|reformat|format"
    r"|uppercase|lowercase|capitali[sz]e|dedupe|de-?duplicate|compress|zip)\b",
    re.I,
)
POINTER = re.compile(r"\b(?:it|its|them|the\s+file|that\s+file|this\s+file)\b", re.I)
CLAUSE_END = re.compile(r"[.;!?](?:\s|$)|\n")
# A quoted file name is a source ("Save 'draft.md' as final.md"), not words to write.
JUST_A_NAME = re.compile(r"[\w./-]+\.[A-Za-z][A-Za-z0-9]{0,7}")
